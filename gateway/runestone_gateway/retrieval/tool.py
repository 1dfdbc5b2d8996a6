"""Vector store search for the Responses API's `file_search` tool: the API layer's one way into
retrieval. A search here is the search endpoint's own (`POST /v1/vector_stores/{id}/search`:
the same ownership check, filters, hybrid ranking and query embeddings charged to the key), run
over each named store, the best results of all kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pydantic

from runestone_gateway import errors
from runestone_gateway.admission import auth
from runestone_gateway.retrieval import app, endpoints, filters, models, records, stores, weaviate
from runestone_gateway.telemetry import accesslog


async def check_stores(
    retrieval: app.Retrieval,
    who: auth.Principal,
    store_ids: Sequence[str],
    where: dict[str, Any] | None,
) -> None:
    """Refuse, before any model is asked, a store that is not the caller's (404, as the search
    endpoint answers), malformed filters (400) and a key that may not use the embedding model
    the queries are embedded with (403)."""
    settings = retrieval.gateway.runtime.config.vector_stores
    if settings is not None:
        auth.check_model(who, settings.embedding_model)
    if where is not None:
        filters.translate(where, frozenset())
    try:
        held = await retrieval.records()
        for store_id in store_ids:
            if await held.get(records.STORES, store_id, who.scope) is None:
                raise stores.not_found(store_id)
    except weaviate.Unavailable as error:
        raise app.unreachable(error) from None


async def search(
    retrieval: app.Retrieval,
    who: auth.Principal,
    store_ids: Sequence[str],
    queries: Sequence[str],
    *,
    max_num_results: int,
    where: dict[str, Any] | None,
    score_threshold: float,
) -> list[dict[str, Any]]:
    """The best `max_num_results` chunks for `queries` over the stores, best first, each as
    `file_id`, `filename`, `score`, `text` and `attributes`."""
    try:
        request = models.Search(
            query=list(queries),
            filters=where,
            max_num_results=max_num_results,
            ranking_options=models.RankingOptions(score_threshold=score_threshold),
        )
    except pydantic.ValidationError as error:
        raise errors.malformed(
            f"The file search cannot be run: {error.errors()[0]['msg']}."
        ) from None
    found: list[dict[str, Any]] = []
    for store_id in store_ids:
        path = f"/v1/vector_stores/{store_id}/search"
        context = app.Context(who, accesslog.Exchange("POST", path, ""), retrieval)
        try:
            page = await endpoints.search_store(context, store_id, request)
        except weaviate.Unavailable as error:
            raise app.unreachable(error) from None
        found += page["data"]
    found.sort(key=lambda result: float(result["score"]), reverse=True)
    return [
        {
            "file_id": result["file_id"],
            "filename": result["filename"],
            "score": result["score"],
            "text": "".join(part.get("text", "") for part in result["content"]),
            "attributes": result.get("attributes") or {},
        }
        for result in found[:max_num_results]
    ]
