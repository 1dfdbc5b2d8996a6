"""`POST /v1/vector_stores/{id}/search`: Weaviate's hybrid search (the query's vector and BM25
on the chunks' text, fused by relative score) by default; `search_mode` (an extension: `hybrid`,
`vector` or `keyword`) picks one side alone. Attribute filters and the score threshold apply to
each; with several queries each is searched and the best score of a chunk kept. A page says
truthfully whether more results follow; its `next_page`, sent back as `page` (an extension),
gives the next one."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, Literal

from runestone_gateway import errors
from runestone_gateway.retrieval import filters

HYBRID_ALPHA = 0.75
"""The vector search's weight in hybrid search (BM25's is the rest), Weaviate's own default.
On the tests' labelled corpus with all-MiniLM-L6-v2, 0.75 finds the answer's file first for 0.88
of the questions, 0.5 for 0.46 (a stray keyword match often won); vector alone 0.92."""

Mode = Literal["hybrid", "vector", "keyword"]
_FIELDS = "fileId filename text attributes seq"


def query(
    collection: str,
    text: str,
    vector: Sequence[float] | None,
    mode: Mode,
    where: filters.Where,
    limit: int,
) -> str:
    if mode == "keyword":
        operator = f'bm25: {{query: {json.dumps(text)}, properties: ["text"]}}'
        extra = "score"
    elif mode == "vector":
        operator = f"nearVector: {{vector: {_vector(vector)}}}"
        extra = "distance"
    else:
        operator = (
            f"hybrid: {{query: {json.dumps(text)}, vector: {_vector(vector)}, "
            f'alpha: {HYBRID_ALPHA}, properties: ["text"], fusionType: relativeScoreFusion}}'
        )
        extra = "score"
    return (
        f"{{ Get {{ {collection}({operator}, where: {filters.graphql(where)}, "
        f"limit: {limit}) {{ {_FIELDS} _additional {{ {extra} }} }} }} }}"
    )


def _vector(vector: Sequence[float] | None) -> str:
    assert vector is not None
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def score(hit: dict[str, Any], mode: Mode) -> float:
    extra = hit.get("_additional") or {}
    if mode == "vector":
        # Cosine distance is 0 (same direction) to 2; OpenAI's scores run from 0 to 1.
        return max(0.0, 1.0 - float(extra.get("distance") or 0.0))
    return float(extra.get("score") or 0.0)


def results(
    hits: list[tuple[dict[str, Any], float]], threshold: float, limit: int
) -> list[dict[str, Any]]:
    """The best `limit` chunks over every query, each once, at or above the threshold."""
    found, _ = page(hits, threshold, limit)
    return found


def page(
    hits: list[tuple[dict[str, Any], float]], threshold: float, limit: int, offset: int = 0
) -> tuple[list[dict[str, Any]], bool]:
    """The chunks ranked `offset` to `offset + limit` over every query, each once, at or
    above the threshold, and whether any rank after them (`hits` must hold each query's best
    `offset + limit + 1` for that to be true)."""
    best: dict[tuple[str, int], tuple[dict[str, Any], float]] = {}
    for hit, value in hits:
        key = (hit["fileId"], int(hit.get("seq") or 0))
        if value >= threshold and (key not in best or best[key][1] < value):
            best[key] = (hit, value)
    # Equal scores keep Weaviate's order (its own tie-break, on which hybrid search relies).
    everything = sorted(best.items(), key=lambda item: -item[1][1])
    ranked = [pair for _, pair in everything[offset : offset + limit]]
    return [
        {
            "file_id": hit["fileId"],
            "filename": hit["filename"],
            "score": value,
            "attributes": json.loads(hit.get("attributes") or "{}"),
            "content": [{"type": "text", "text": hit["text"]}],
        }
        for hit, value in ranked
    ], len(everything) > offset + limit


MAX_OFFSET = 1000
"""How deep pages go: each page asks Weaviate for every result before it."""
_PAGE_PREFIX = "vsp_"


def page_token(offset: int) -> str | None:
    """`next_page` of a page that ends before `offset` (None past the deepest page)."""
    if offset > MAX_OFFSET:
        return None
    return _PAGE_PREFIX + base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def offset(token: str | None) -> int:
    """Where a page starts: 0, or where the page whose `next_page` is `token` ended."""
    if token is None:
        return 0
    try:
        assert token.startswith(_PAGE_PREFIX)
        raw = token.removeprefix(_PAGE_PREFIX)
        value = int(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
        assert 0 < value <= MAX_OFFSET
    except (AssertionError, ValueError):
        raise errors.malformed(
            "'page' must be the next_page of an earlier search's answer.", param="page"
        ) from None
    return value
