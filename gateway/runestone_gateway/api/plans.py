"""Endpoints with an API of their own (Responses, Messages): a `Plan` per request says how each
upstream is asked (in that API, to a provider that speaks it, else translated to Chat
Completions) and how its answer is shaped for the client; this module serves a plan, whole or
streamed, through the same failover as every endpoint.

A streamed answer goes through a `Shaper` (a translator of the `translate` package, or a
`passthrough` one): it is fed the upstream's events and gives the client's. As for chat, an
attempt may fail over until the upstream's first event and never after it; a stream broken
after that ends with the endpoint's own failure event. What a plan keeps of the answer (a
stored response) is written before the client sees the answer's end, so the next request,
on any replica, finds it."""

from __future__ import annotations

import abc
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

import orjson

from runestone_gateway import config, errors
from runestone_gateway.api import asgi, streaming, tokens
from runestone_gateway.failover import dispatch, routing
from runestone_gateway.providers import base
from runestone_gateway.state import responses
from runestone_gateway.telemetry import accesslog
from runestone_gateway.translate import checks

log = logging.getLogger("runestone.gateway")

_GatewayConfig = config.GatewayConfig


class Serving(Protocol):
    """What a plan reads of the current config generation."""

    @property
    def config(self) -> _GatewayConfig: ...

    @property
    def responses(self) -> responses.Store | None: ...


class Shaper(Protocol):
    """A stream's translator: upstream events in, the client's events out (see
    `translate.streams.ChatStreamReader`, whose translators are shapers)."""

    @property
    def closed(self) -> bool: ...

    @property
    def usage(self) -> base.Usage | None: ...

    @property
    def output_chars(self) -> int: ...

    def feed(self, events: bytes) -> bytes: ...

    def end(self) -> bytes: ...

    def fail(self, message: str = ...) -> bytes: ...


class Plan(abc.ABC):
    """How one request is asked of upstreams and answered. `estimate` is its prompt tokens, for
    the key's limits; `charged` is False for a request that uses no tokens (a token count)."""

    charged = True

    def __init__(self, estimate: int) -> None:
        self.estimate = estimate

    @abc.abstractmethod
    def call(self, target: routing.Target) -> base.Call:
        """What to ask this target."""

    def ask(self, target: routing.Target) -> Awaitable[base.Answer]:
        """A whole answer from this target."""
        return target.provider.answer(self.call(target))

    def open(self, target: routing.Target) -> Awaitable[streaming.Opened]:
        """A stream from this target, opened as far as its first event."""
        return streaming.open_stream(target, self.call(target))

    @abc.abstractmethod
    async def whole(self, target: routing.Target, answer: base.Answer) -> bytes:
        """The client's body for a whole answer (kept first, when the plan keeps answers)."""

    @abc.abstractmethod
    def shaper(self, target: routing.Target) -> Shaper:
        """The translator of a stream from this target."""

    async def kept(self, shaper: Shaper) -> None:
        """Keep what the ended stream answered, before the client sees its end."""
        return


def speaks(target: routing.Target, api: config.UpstreamApi) -> bool:
    """Whether the target's provider takes requests in `api` as they are."""
    return target.provider.spec.effective_api == api


def translates(route: routing.Route, api: config.UpstreamApi) -> bool:
    """Whether some target of the route needs requests in `api` translated to chat: then the
    request must be one the translation takes, whichever target answers it."""
    return any(not speaks(target, api) for tier in route.tiers for target in tier)


def invalid(error: checks.TranslationError) -> errors.GatewayError:
    """A request the translation refused: a 400 naming the field."""
    return errors.malformed(error.message, param=error.param)


def json_answer(answer: base.Answer, provider: str) -> dict[str, Any]:
    """A whole upstream answer's JSON object (the provider has checked it is one)."""
    parsed = orjson.loads(answer.body)
    if not isinstance(parsed, dict):
        raise base.UpstreamError(base.FailureKind.PROTOCOL, f"{provider}: answer is not an object")
    return parsed


def answered(
    exchange: accesslog.Exchange,
    target: routing.Target,
    usage: base.Usage | None,
    error_type: str,
) -> None:
    exchange.answered = time.perf_counter()
    exchange.target = target
    exchange.usage = usage
    if error_type:
        exchange.error_type = error_type


async def serve(
    plan: Plan,
    streamed: bool,
    route: routing.Route,
    rng: random.Random,
    scope: asgi.Scope,
    receive: asgi.Receive,
    send: asgi.Send,
    exchange: accesslog.Exchange,
) -> None:
    """Answer the request whole, or as a stream."""
    if not streamed:
        with asgi.CancelOnDisconnect(scope, receive):
            whole = await dispatch.first_success(
                route, plan.ask, rng=rng, attempts=exchange.attempts
            )
            exchange.target = whole.target
            body = await plan.whole(whole.target, whole.result)
            await asgi.send_json(send, 200, body, exchange.answering(200))
            exchange.upstream_seconds = whole.upstream_seconds
            if plan.charged:
                answered(exchange, whole.target, whole.result.usage, "")
        return
    relay = Relay(send)
    success: dispatch.Success[streaming.Opened] | None = None

    with asgi.CancelOnDisconnect(scope, receive) as watch:
        success = await dispatch.first_success(
            route, plan.open, rng=rng, attempts=exchange.attempts
        )
        exchange.target = success.target
        exchange.ttft = time.perf_counter() - exchange.started
        exchange.upstream_seconds = success.upstream_seconds
        await relay.run(success, plan, exchange.answering(200))
    if success is not None:
        failure = relay.failure or ("client_disconnected" if watch.gone else "")
        usage = relay.usage(success.result[0], plan)
        exchange.tokens_estimated = relay.estimated
        answered(exchange, success.target, usage, failure)


class Relay:
    """Sends one opened stream to the client through the plan's shaper. `failure` names what
    broke it, if anything."""

    def __init__(self, send: asgi.Send) -> None:
        self._send = send
        self.failure = ""
        self.shaper: Shaper | None = None
        self.estimated = False
        """Whether `usage` gave the relay's estimate rather than the upstream's count."""

    def usage(self, stream: base.EventStream, plan: Plan) -> base.Usage | None:
        """What to charge for the ended stream: the upstream's usage (as the shaper read it
        from the events, else as the provider did); when it reported none, or only the part
        before the end, the estimate: the plan's for input, the shaped deltas' for output.
        A stream that never started is not charged."""
        shaper = self.shaper
        if shaper is None:
            return None
        if shaper.usage is not None:  # read from the answer's own last events: complete
            return shaper.usage
        reported = stream.usage
        if reported is not None and not stream.usage_partial:
            return reported
        self.estimated = True
        output = -(-shaper.output_chars // tokens.CHARS_PER_TOKEN)
        if reported is None:
            return base.Usage(plan.estimate, output)
        return dataclasses.replace(reported, output_tokens=max(reported.output_tokens, output))

    async def run(
        self,
        opened: dispatch.Success[streaming.Opened],
        plan: Plan,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        stream, first = opened.result
        shaper = self.shaper = plan.shaper(opened.target)
        send = self._send

        async def forward(events: bytes) -> bool:
            """Send what the shaper gave; the events that end the answer go out last, after
            the plan has kept the answer, with the end of the body. True at the end."""
            if shaper.closed:
                await plan.kept(shaper)
                await send({"type": "http.response.body", "body": events, "more_body": False})
                return True
            if events:
                await send({"type": "http.response.body", "body": events, "more_body": True})
            return False

        try:
            start = [*asgi.SSE_HEADERS, *headers]
            await send({"type": "http.response.start", "status": 200, "headers": start})
            ended = await forward(shaper.feed(first))
            while not ended:
                try:
                    event = await stream.next()
                except base.UpstreamError as error:
                    self.failure = error.kind.value
                    opened.target.breaker.failure(opened.permit)
                    log.warning(
                        "stream from %s broke: %s", opened.target.provider_name, error.detail
                    )
                    ended = await forward(shaper.fail())
                    continue
                ended = await forward(shaper.end() if event is None else shaper.feed(event))
        finally:
            # Also on cancellation (the client went away): closing the stream drops the
            # upstream connection, which cancels the upstream request.
            await stream.aclose()
