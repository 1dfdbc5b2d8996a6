"""OpenAI's Responses API at `POST /v1/responses`: the request's checks and its plan.

A provider that speaks Responses (`api: responses`) gets the request as the client wrote it,
with three changes: its own model name, `store: false` (the gateway keeps responses, so that
any provider of the route can continue one), and for `previous_response_id` the earlier items
themselves in `input`. Every other provider gets it translated to Chat Completions
(`translate.responses_request`), and its answer translated back. When a route has a provider
of the second kind, every request is checked by that translation up front, so it is refused
(400, naming the field) before anything is charged, whichever provider would have answered.

Stored responses (`state.responses`) need the shared store. With one, `store` defaults to true
as in OpenAI's API, and an input item may name an item of one of the key's stored responses
(`{"type": "item_reference", "id": ...}`: the item is put in its place); without one, answers
say `"store": false`, and a request that needs stored state is refused with a 400 that says
what to configure."""

from __future__ import annotations

from typing import Any

import orjson

from runestone_gateway import errors
from runestone_gateway.admission import auth
from runestone_gateway.api import asgi, passthrough, plans, validate
from runestone_gateway.failover import routing
from runestone_gateway.providers import base
from runestone_gateway.state import responses as stored_
from runestone_gateway.translate import (
    checks,
    file_search,
    ids,
    responses_answer,
    responses_request,
    responses_stream,
    tokens,
)

NO_SHARED_STORE = (
    "This gateway has no shared store, so it keeps no responses: storing one (`store: true`), "
    "continuing one (`previous_response_id`) and reading one need it. Give the Gateway "
    "`rateLimitStore: {type: redis, url: ...}` (in the gateway config, `limits.store` of type "
    "redis), or send `store: false` and the whole conversation in `input`."
)


def check(raw: bytes) -> validate.Request:
    """What routing needs of a Responses request; the rest is checked by its plan."""
    body, model = validate.document(raw)
    return validate.Request("chat", body, model, validate.streamed(body), False)


def needs_store(param: str | None) -> errors.GatewayError:
    return errors.invalid(NO_SHARED_STORE, code="no_shared_store", param=param)


def unavailable(error: stored_.Unavailable) -> errors.GatewayError:
    plans.log.error("the shared store failed reading stored responses: %s", error)
    return errors.GatewayError(
        503,
        "The gateway's shared store is unavailable; stored responses cannot be read now.",
        type=errors.SERVER,
        code="shared_store_unavailable",
        headers=((b"retry-after", b"1"),),
    )


async def read(
    store: stored_.Store, response_id: str, who: auth.Principal
) -> stored_.Stored | None:
    """The stored response, if there is one and this key made it."""
    try:
        found = await store.get(response_id)
    except stored_.Unavailable as error:
        raise unavailable(error) from None
    return found if found is not None and found.owner == who.scope else None


async def plan(
    request: validate.Request,
    route: routing.Route,
    who: auth.Principal,
    current: plans.Serving,
    scope: asgi.Scope,
) -> ResponsesPlan:
    body = request.body
    store = current.responses
    asked = body.get("store")
    if asked is not None and not isinstance(asked, bool):
        raise errors.malformed("'store' must be a boolean.", param="store")
    if store is None and asked is True:
        raise needs_store("store")
    if isinstance(body.get("input"), list):
        body = {**body, "input": await _referenced(store, body["input"], who)}
    history: list[dict[str, Any]] = []
    previous = body.get("previous_response_id")
    if previous is not None:
        if not isinstance(previous, str) or not previous:
            raise errors.malformed(
                "'previous_response_id' must be a non-empty string.", param="previous_response_id"
            )
        if store is None:
            raise needs_store("previous_response_id")
        found = await read(store, previous, who)
        if found is None:
            raise errors.invalid(
                f"Previous response with id {previous!r} not found.",
                code="previous_response_not_found",
                param="previous_response_id",
            )
        history = found.conversation()
    chat = None
    if plans.translates(route, "responses"):
        try:
            chat = responses_request.to_chat_request(body, history=history)
        except checks.TranslationError as error:
            raise plans.invalid(error) from None
    elif not isinstance(body.get("input"), str | list):
        raise errors.malformed("'input' must be a string or an array.", param="input")
    keep = store is not None and asked is not False
    return ResponsesPlan(
        body,
        chat,
        history,
        owner=who.scope,
        store=store if keep else None,
        retention=current.config.stored_responses.retention_seconds,
        estimate=tokens.responses_input(body, history),
    )


class ResponsesPlan(plans.Plan):
    def __init__(
        self,
        body: dict[str, Any],
        chat: dict[str, Any] | None,
        history: list[dict[str, Any]],
        *,
        owner: str,
        store: stored_.Store | None,
        retention: float,
        estimate: int,
    ) -> None:
        super().__init__(estimate)
        self.body = body
        self.chat = chat
        self.history = history
        self.owner = owner
        self.store = store
        self.retention = retention
        self.context = responses_answer.context(body, store=store is not None)
        self._native: dict[str, Any] | None = None

    def call(self, target: routing.Target) -> base.Call:
        if self.chat is None or self.passes_through(target):
            return base.Call("chat", self.native_body(), target.upstream_model, api="responses")
        return base.Call("chat", self.chat, target.upstream_model, include_usage=True)

    def native_body(self) -> dict[str, Any]:
        """The request as a Responses upstream gets it."""
        if self._native is None:
            native = {**self.body, "store": False}
            if self.history:
                native.pop("previous_response_id", None)
                native["input"] = [
                    *replayable(self.history),
                    *responses_request.input_items(self.body),
                ]
            if isinstance(native.get("input"), list):
                # Earlier searches the gateway ran: the upstream knows them as function calls.
                native["input"] = file_search.function_items(native["input"])
            self._native = native
        return self._native

    async def whole(self, target: routing.Target, answer: base.Answer) -> bytes:
        return await self.finish(self.shaped(target, answer))

    def shaped(self, target: routing.Target, answer: base.Answer) -> dict[str, Any]:
        """The response object of a whole answer."""
        upstream = plans.json_answer(answer, target.provider_name)
        if self.passes_through(target):
            upstream.update(self.echo())
            return upstream
        return responses_answer.to_response(upstream, self.context)

    async def finish(self, response: dict[str, Any]) -> bytes:
        """The client's body for a response object, kept first when asked."""
        if not await self._keep(response):
            response["store"] = False
        return orjson.dumps(response)

    def passes_through(self, target: routing.Target) -> bool:
        """Whether this target gets the request in the Responses API (not translated)."""
        return self.chat is None or plans.speaks(target, "responses")

    def shaper(self, target: routing.Target) -> plans.Shaper:
        if self.passes_through(target):
            echo = self.echo()
            return passthrough.ResponsesPassthrough(
                store=echo["store"], previous_response_id=echo["previous_response_id"]
            )
        return responses_stream.StreamTranslator(self.context)

    async def kept(self, shaper: plans.Shaper) -> None:
        response = getattr(shaper, "response", None)
        if isinstance(response, dict):
            await self._keep(response)

    def echo(self) -> dict[str, Any]:
        """What a passed-through response says of the gateway's keeping it."""
        return {
            "store": self.store is not None,
            "previous_response_id": self.body.get("previous_response_id"),
        }

    async def _keep(self, response: dict[str, Any]) -> bool:
        """Store the response when the request asked to; False when that failed."""
        if self.store is None:
            return True
        record = stored_.Stored(
            owner=self.owner,
            response=response,
            input=_with_ids(responses_request.input_items(self.body)),
            history=self.history,
        )
        try:
            await self.store.put(record, self.retention)
        except stored_.Unavailable as error:
            plans.log.error(
                "the shared store failed; response %s is not kept: %s", record.id, error
            )
            return False
        return True


async def _referenced(
    store: stored_.Store | None, items: list[Any], who: auth.Principal
) -> list[Any]:
    """The input with each item reference replaced by the item it names, from the key's own
    stored responses (without its id, which names an item no upstream stored)."""
    wanted = {
        index: item.get("id")
        for index, item in enumerate(items)
        if isinstance(item, dict) and item.get("type") == "item_reference"
    }
    if not wanted:
        return items
    if store is None:
        raise needs_store(f"input[{next(iter(wanted))}]")
    for index, item_id in wanted.items():
        if not isinstance(item_id, str) or not item_id:
            raise errors.malformed(
                f"'input[{index}].id' must be a non-empty string.", param=f"input[{index}].id"
            )
    try:
        found = await store.items(sorted({str(item_id) for item_id in wanted.values()}))
    except stored_.Unavailable as error:
        raise unavailable(error) from None
    resolved = list(items)
    for index, item_id in wanted.items():
        owner, item = found.get(str(item_id), ("", {}))
        if owner != who.scope:
            raise errors.invalid(
                f"Item with id {item_id!r} not found.",
                code="item_not_found",
                param=f"input[{index}].id",
            )
        resolved[index] = {key: value for key, value in item.items() if key != "id"}
    return resolved


def replayable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier items as a Responses upstream takes them in `input`: without their ids (they
    name items the upstream never stored) and without reasoning items (another request's
    encrypted reasoning, which an upstream that did not store it refuses)."""
    return [
        {key: value for key, value in item.items() if key != "id"}
        for item in items
        if isinstance(item, dict) and item.get("type") != "reasoning"
    ]


def _with_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input items as `input_items` lists them: each with an id and a type, a message's text
    as a content part."""
    listed = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type") or "message"
        listed.append(
            {
                "id": item.get("id") or (ids.message_item() if kind == "message" else ids.item()),
                **item,
                "type": kind,
            }
        )
        content = item.get("content")
        if kind == "message" and isinstance(content, str):
            part = "output_text" if item.get("role") == "assistant" else "input_text"
            listed[-1]["content"] = [{"type": part, "text": content}]
    return listed
