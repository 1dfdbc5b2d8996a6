"""Stored responses by id: `GET /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` and
`DELETE /v1/responses/{id}`. A response another key made is answered exactly as one that does
not exist (404), so ids tell a caller nothing about other keys' responses."""

from __future__ import annotations

import urllib.parse
from typing import Any

import orjson

from runestone_gateway import errors
from runestone_gateway.admission import auth
from runestone_gateway.api import asgi, plans, responses
from runestone_gateway.state import responses as stored_
from runestone_gateway.telemetry import accesslog

PREFIX = "/v1/responses/"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


async def serve(
    current: plans.Serving,
    who: auth.Principal,
    method: str,
    scope: asgi.Scope,
    send: asgi.Send,
    exchange: accesslog.Exchange,
) -> None:
    path: str = scope["path"]
    response_id, _, rest = path[len(PREFIX) :].partition("/")
    if not response_id or rest not in ("", "input_items"):
        raise errors.route_not_found(method, path)
    allowed = ("GET",) if rest else ("GET", "DELETE")
    if method not in allowed:
        raise errors.method_not_allowed(method, path)
    store = current.responses
    if store is None:
        raise responses.needs_store(None)
    found = await responses.read(store, response_id, who)
    if found is None:
        raise errors.invalid(
            f"Response with id {response_id!r} not found.", code="response_not_found", status=404
        )
    exchange.model = str(found.response.get("model") or "")
    if method == "DELETE":
        try:
            await store.delete(found)
        except stored_.Unavailable as error:
            raise responses.unavailable(error) from None
        body: object = {"id": response_id, "object": "response", "deleted": True}
    elif rest:
        body = _page(found.input, urllib.parse.parse_qs(scope.get("query_string", b"").decode()))
    else:
        body = found.response
    await asgi.send_json(send, 200, orjson.dumps(body), exchange.answering(200))


def _page(items: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    """One page of input items, as OpenAI lists them: newest first unless `order=asc`, at most
    `limit`, after the item `after`."""
    order = _one(query, "order") or "desc"
    if order not in ("asc", "desc"):
        raise errors.malformed("'order' must be asc or desc.", param="order")
    limit_text = _one(query, "limit") or str(DEFAULT_LIMIT)
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise errors.malformed(f"'limit' must be an integer from 1 to {MAX_LIMIT}.", param="limit")
    ordered = items if order == "asc" else list(reversed(items))
    after = _one(query, "after")
    if after:
        position = next((n for n, item in enumerate(ordered) if item.get("id") == after), None)
        if position is None:
            raise errors.malformed(f"No input item with id {after!r}.", param="after")
        ordered = ordered[position + 1 :]
    page = ordered[: int(limit_text)]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0].get("id") if page else None,
        "last_id": page[-1].get("id") if page else None,
        "has_more": len(ordered) > len(page),
    }


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None
