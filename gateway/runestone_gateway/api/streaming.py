"""Streamed answers: open a stream far enough to know it works (its first event), then relay
events to the client as they arrive. Until the first event an attempt may fail over; after it,
a broken upstream ends the client's stream with an error event and is never retried. A stream
that ends without the upstream's usage (the client left, the upstream omits it) is charged the
relay's own estimate of what it sent."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import orjson

from runestone_gateway import errors
from runestone_gateway.api import asgi, tokens, validate
from runestone_gateway.failover import dispatch, routing
from runestone_gateway.providers import base
from runestone_gateway.transport import sse

log = logging.getLogger("runestone.gateway")

Opened = tuple[base.EventStream, bytes]
EARLY_EVENTS = 3
"""The writes that hold a stream's first events are kept for an estimate of its output (one of
them carries text)."""


async def open_stream(target: routing.Target, call: base.Call) -> Opened:
    """The upstream stream and its first event; any failure up to here is a failed attempt."""
    stream = await target.provider.stream(call)
    try:
        first = await stream.next()
    except BaseException:
        await stream.aclose()
        raise
    if first is None:
        await stream.aclose()
        raise base.UpstreamError(base.FailureKind.PROTOCOL, f"{target.provider_name}: empty stream")
    return stream, first


class Relay:
    """Sends one opened stream to the client. `failure` names what broke it, if anything;
    `usage` is what to charge for it once it has ended."""

    def __init__(self, send: asgi.Send) -> None:
        self._send = send
        self.failure = ""
        self.estimated = False
        """Whether `usage` gave the relay's estimate rather than the upstream's count."""
        self._size = 0  # what reached the client: bytes, events, the first writes
        self._events = 0
        self._early: list[bytes] = []

    async def run(
        self, opened: dispatch.Success[Opened], headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        """Relay the stream, its answer carrying `headers` besides the SSE ones."""
        stream, first = opened.result
        send = self._send
        # The event that ends with [DONE] is the last by protocol: it is held back and leaves
        # with the end of the body, one write instead of two. Nothing else waits.
        held = b""
        # What reached the client, [DONE] aside, for an estimate should no usage come: the
        # only cost per event of an estimate that is rarely needed. Events are counted in a
        # write only when it is long enough to hold more than one, going by the stream's first
        # event (most writes hold one; counting costs a scan).
        size = count = 0
        early: list[bytes] = []
        first_end = first.find(b"\n\n")
        single = (first_end + 2 if first_end >= 0 else len(first)) * 3 // 2

        async def forward(events: bytes) -> None:
            nonlocal held, size, count
            if held:
                await send({"type": "http.response.body", "body": held, "more_body": True})
                held = b""
            if events.endswith(sse.DONE_EVENT):
                held = events
                events = events[: -len(sse.DONE_EVENT)]
                one = False
            else:
                await send({"type": "http.response.body", "body": events, "more_body": True})
                one = len(events) <= single
            if count < EARLY_EVENTS:
                early.append(events)
            size += len(events)
            count += 1 if one else events.count(b"\n\n")

        try:
            start_headers = [*asgi.SSE_HEADERS, *headers]
            await send({"type": "http.response.start", "status": 200, "headers": start_headers})
            await forward(first)
            while True:
                try:
                    event = await stream.next()
                except base.UpstreamError as error:
                    self._broken(opened, error)
                    await forward(error_event(error))
                    break
                if event is None:
                    break
                await forward(event)
            await send({"type": "http.response.body", "body": held, "more_body": False})
        finally:
            self._size, self._events, self._early = size, count, early
            # Also on cancellation (the client went away): closing the stream drops the
            # upstream connection, which cancels the upstream request.
            await stream.aclose()

    def usage(self, stream: base.EventStream, request: validate.Request) -> base.Usage:
        """The upstream's usage of the ended stream; when it reported none, or only the part
        before the end, the estimate: the prompt's for input, the relayed text's for output."""
        reported = stream.usage
        if reported is not None and not stream.usage_partial:
            return reported
        self.estimated = True
        output = tokens.streamed(self._size, self._events, self._early)
        if reported is not None:
            return base.Usage(reported.input_tokens, max(reported.output_tokens, output))
        return base.Usage(tokens.estimate(request), output)

    def _broken(self, opened: dispatch.Success[Opened], error: base.UpstreamError) -> None:
        self.failure = error.kind.value
        opened.target.breaker.failure(opened.permit)
        log.warning("stream from %s broke: %s", opened.target.provider_name, error.detail)


def error_event(error: base.UpstreamError) -> bytes:
    """The OpenAI SDKs raise an APIError for an event that carries `error`."""
    body = errors.envelope(
        f"The upstream failed during the stream ({error.kind.value}).",
        type=errors.UPSTREAM,
        code="upstream_stream_failed",
    )
    return sse.data_event(orjson.dumps(body))
