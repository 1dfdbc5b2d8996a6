"""Requests in an upstream's own API (OpenAI's Responses, Anthropic's Messages), sent through as
the client wrote them, `model` rewritten, and their answers relayed as they come.

A whole answer is returned byte for byte, with its usage read. A stream is relayed event by
event, its events grouped as they arrived; only the events that say how the answer ends (and
carry its usage) are parsed: `response.completed` / `.incomplete` / `.failed` for Responses,
`message_start`, `message_delta` and `message_stop` for Messages. An `error` event raises
UpstreamError, so that before the client has seen a byte the request fails over, and after it
the client's stream ends with the error in its API's own shape. A stream that stops before its
last event is a PROTOCOL failure."""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator
from typing import Any

import orjson

from runestone_gateway.providers import anthropic_stream, base, http
from runestone_gateway.translate import usage as usage_
from runestone_gateway.transport import h1, sse


class Reader(abc.ABC):
    """What the relay reads of one API's events."""

    def __init__(self, provider: str) -> None:
        self.provider = provider

    @abc.abstractmethod
    def read(self, name: str | None, data: bytes, meter: base.UsageMeter) -> bool:
        """Note what the event says; True once the answer is complete. Raises UpstreamError
        for an event that says the upstream failed."""

    def _payload(self, data: bytes) -> dict[str, Any]:
        return http.json_object(data, self.provider)


class ResponsesReader(Reader):
    ENDS = frozenset({"response.completed", "response.incomplete", "response.failed"})

    def read(self, name: str | None, data: bytes, meter: base.UsageMeter) -> bool:
        if name is None:  # a server that does not name its events: the type says it
            name = str(self._payload(data).get("type"))
        if name in self.ENDS:
            response = self._payload(data).get("response")
            if isinstance(response, dict):
                meter.usage = usage_.from_responses(response.get("usage"))
            return True
        if name == "error":
            raise base.UpstreamError(base.FailureKind.STATUS, f"{self.provider}: stream error")
        return False


class MessagesReader(Reader):
    def __init__(self, provider: str) -> None:
        super().__init__(provider)
        self._usage: dict[str, Any] = {}

    def read(self, name: str | None, data: bytes, meter: base.UsageMeter) -> bool:
        if name == "message_stop":
            return True
        if name == "message_start":
            message = self._payload(data).get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
        elif name == "message_delta":
            usage = self._payload(data).get("usage")
        elif name == "error":
            raise anthropic_stream.stream_error(self._payload(data).get("error"))
        else:
            return False
        if isinstance(usage, dict):
            # message_delta repeats the counts that changed; the others stand from the start.
            self._usage.update(usage)
            meter.usage = usage_.from_messages(self._usage)
            # The output's count comes only with message_delta, at the end.
            meter.partial = name == "message_start"
        return False


async def relay(
    upstream: http.Upstream, response: h1.Response, reader: Reader, meter: base.UsageMeter
) -> AsyncGenerator[bytes, None]:
    """The stream's events as they arrive, until the reader says the answer is complete."""
    splitter = sse.EventSplitter()
    finished = False
    failure: base.UpstreamError | None = None
    try:
        async for chunk in upstream.chunks(response):
            passed: list[bytes] = []
            for event in splitter.feed(chunk):
                name, data = sse.parse(event)
                try:
                    finished = reader.read(name, data, meter)
                except base.UpstreamError as error:
                    failure = error
                    break
                passed.append(event)
                if finished:
                    break
            if passed:
                yield passed[0] if len(passed) == 1 else b"".join(passed)
            if finished or failure is not None:
                break
    finally:
        # Closing (rather than releasing) an unfinished response drops the connection, which
        # is how the upstream learns that the request was cancelled.
        if finished:
            response.release()
        else:
            response.close()
    if failure is not None:
        raise failure
    if not finished:
        raise base.UpstreamError(
            base.FailureKind.PROTOCOL, f"{upstream.provider}: stream ended before its last event"
        )


def body(call: base.Call) -> bytes:
    """The client's request for this upstream: its own model name, nothing else changed."""
    return orjson.dumps({**call.body, "model": call.upstream_model})
