"""Anthropic's Messages API at `POST /v1/messages` and `POST /v1/messages/count_tokens`: the
requests' checks and their plans. Errors on these paths are answered in Anthropic's envelope.

An Anthropic provider gets the request as the client wrote it (its own model name aside), with
the client's `anthropic-version` and `anthropic-beta` headers, so prompt caching
(`cache_control`), thinking and beta features reach it unchanged. Every other provider gets it
translated to Chat Completions (`translate.messages_request`), and its answer translated back.
When a route has a provider of the second kind, every request is checked by that translation up
front (400, naming the field), whichever provider would have answered.

`count_tokens` asks an Anthropic provider for its own count; any other gets the gateway's
estimate (`translate.tokens`). It counts against the key's request rate, never its tokens or
budget."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any

import orjson

from runestone_gateway import errors
from runestone_gateway.admission import auth
from runestone_gateway.api import asgi, passthrough, plans, validate
from runestone_gateway.failover import routing
from runestone_gateway.providers import base
from runestone_gateway.translate import checks, messages_answer, messages_request, messages_stream
from runestone_gateway.translate import tokens as tokens_

PASSED_HEADERS = (b"anthropic-version", b"anthropic-beta")
"""Client headers an Anthropic upstream reads; others (keys above all) never go upstream."""
_HEADER_VALUE = re.compile(rb"^[\x20-\x7e]{1,1024}$")


def check(raw: bytes) -> validate.Request:
    """A Messages request: a model, messages and, as Anthropic requires, `max_tokens`."""
    body, model = validate.document(raw)
    _messages(body)
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise errors.malformed("'max_tokens' is required.", param="max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise errors.malformed("'max_tokens' must be a positive integer.", param="max_tokens")
    return validate.Request("chat", body, model, validate.streamed(body), False)


def check_count(raw: bytes) -> validate.Request:
    """A `count_tokens` request: a Messages request without `max_tokens`, never streamed."""
    body, model = validate.document(raw)
    _messages(body)
    return validate.Request("chat", body, model, False, False)


def _messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise errors.malformed("'messages' must be a non-empty array.", param="messages")


def client_headers(scope: asgi.Scope) -> bytes:
    """The client's Anthropic headers as header lines, for an Anthropic upstream."""
    lines = []
    for name, value in scope["headers"]:
        if name in PASSED_HEADERS and _HEADER_VALUE.match(value):
            lines.append(bytes(name) + b": " + bytes(value) + b"\r\n")
    return b"".join(lines)


async def plan(
    request: validate.Request,
    route: routing.Route,
    who: auth.Principal,
    current: plans.Serving,
    scope: asgi.Scope,
) -> MessagesPlan:
    body = request.body
    chat = None
    if plans.translates(route, "messages"):
        try:
            chat = messages_request.to_chat_request(body)
        except checks.TranslationError as error:
            raise plans.invalid(error) from None
    return MessagesPlan(body, chat, client_headers(scope), tokens_.messages_request(body))


async def count_plan(
    request: validate.Request,
    route: routing.Route,
    who: auth.Principal,
    current: plans.Serving,
    scope: asgi.Scope,
) -> CountPlan:
    body = request.body
    if plans.translates(route, "messages"):
        try:
            messages_request.check_count_request(body)
        except checks.TranslationError as error:
            raise plans.invalid(error) from None
    return CountPlan(body, None, client_headers(scope), tokens_.messages_request(body))


class MessagesPlan(plans.Plan):
    def __init__(
        self, body: dict[str, Any], chat: dict[str, Any] | None, headers: bytes, estimate: int
    ) -> None:
        super().__init__(estimate)
        self.body = body
        self.chat = chat
        self.headers = headers

    def native(self, target: routing.Target) -> bool:
        return self.chat is None or plans.speaks(target, "messages")

    def call(self, target: routing.Target) -> base.Call:
        if self.native(target):
            return base.Call(
                "chat", self.body, target.upstream_model, api="messages", headers=self.headers
            )
        assert self.chat is not None
        return base.Call("chat", self.chat, target.upstream_model, include_usage=True)

    async def whole(self, target: routing.Target, answer: base.Answer) -> bytes:
        if self.native(target):
            return answer.body
        chat = plans.json_answer(answer, target.provider_name)
        return orjson.dumps(messages_answer.to_message(chat, self.body))

    def shaper(self, target: routing.Target) -> plans.Shaper:
        if self.native(target):
            return passthrough.MessagesPassthrough()
        return messages_stream.StreamTranslator(self.body, input_tokens=self.estimate)


class CountPlan(MessagesPlan):
    """A token count: the upstream's own from Anthropic, else the estimate. Uses no tokens."""

    charged = False

    def native(self, target: routing.Target) -> bool:
        return plans.speaks(target, "messages")

    def ask(self, target: routing.Target) -> Awaitable[base.Answer]:
        if self.native(target):
            return target.provider.count_tokens(self.call(target))
        return self._estimated()

    async def _estimated(self) -> base.Answer:
        return base.Answer(orjson.dumps({"input_tokens": self.estimate}), None)

    async def whole(self, target: routing.Target, answer: base.Answer) -> bytes:
        return answer.body
