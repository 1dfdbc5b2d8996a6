"""Streams relayed in the client's own API (a Responses request to an upstream that speaks
Responses, a Messages request to Anthropic): the plans' shapers for them.

Messages events go through byte for byte. Responses events do too, except the few that carry
the whole response object (`response.created`, `.in_progress`, `.completed`, ...): the
gateway, not the upstream, keeps responses, so those say what the gateway does with this one
(`store`, `previous_response_id`), and the last of them is kept. A stream that breaks, or ends
before its last event, ends with the API's own failure event: `response.failed`, or
Anthropic's `error`."""

from __future__ import annotations

from typing import Any

import orjson

from runestone_gateway.providers import base
from runestone_gateway.translate import streams
from runestone_gateway.translate import usage as usage_

RESPONSE_EVENTS = frozenset(
    {
        b"response.created",
        b"response.queued",
        b"response.in_progress",
        b"response.completed",
        b"response.incomplete",
        b"response.failed",
    }
)
"""The Responses events that carry the response object."""
FINAL_EVENTS = frozenset({b"response.completed", b"response.incomplete", b"response.failed"})
EVENT_LINE = b"event: "
MESSAGES_DELTA = b"event: content_block_delta\n"


class _Passthrough:
    def __init__(self) -> None:
        self.closed = False
        self.usage: base.Usage | None = None
        self.output_chars = 0
        """Characters of the deltas relayed so far (text, tool arguments, reasoning): what an
        answer without usage is charged by. Only delta events are read for it."""

    def end(self) -> bytes:
        """The upstream's stream ended; without its last event the answer is cut short."""
        return b"" if self.closed else self.fail(streams.ENDED_EARLY)

    def fail(self, message: str = streams.STREAM_BROKE) -> bytes:
        if self.closed:
            return b""
        self.closed = True
        return self._failure(message)

    def _failure(self, message: str) -> bytes:
        raise NotImplementedError


class ResponsesPassthrough(_Passthrough):
    """`store` is whether the gateway keeps the response, `previous_response_id` the client's;
    `response` is the final response object once the stream has ended."""

    def __init__(self, *, store: bool, previous_response_id: str | None) -> None:
        super().__init__()
        self._echo = {"store": store, "previous_response_id": previous_response_id}
        self.response: dict[str, Any] | None = None
        self._latest: dict[str, Any] | None = None
        self._sequence = 0

    def feed(self, events: bytes) -> bytes:
        if self.closed:
            return b""
        out: list[bytes] = []
        for event in events.split(b"\n\n"):
            if not event:
                continue
            self._sequence += 1
            if event.startswith(EVENT_LINE):
                name = event[len(EVENT_LINE) : event.find(b"\n")]
            else:  # a server that does not name its events: the data's type says it
                name = _type_of(event) if b'"response":' in event else b""
            if name in RESPONSE_EVENTS:
                out.append(self._response_event(name, event))
                continue
            if name.endswith(b".delta"):
                payload = _payload(event)
                delta = payload.get("delta") if isinstance(payload, dict) else None
                if isinstance(delta, str):
                    self.output_chars += len(delta)
            out.append(event + b"\n\n")
        return b"".join(out)

    def _response_event(self, name: bytes, event: bytes) -> bytes:
        payload = _payload(event)
        if not isinstance(payload, dict) or not isinstance(payload.get("response"), dict):
            return event + b"\n\n"
        response: dict[str, Any] = payload["response"]
        response.update(self._echo)
        self._latest = response
        if name in FINAL_EVENTS:
            self.closed = True
            self.response = response
            self.usage = usage_.from_responses(response.get("usage"))
        return streams.named_event(payload)

    def _failure(self, message: str) -> bytes:
        response = dict(self._latest or {})
        response.update(
            self._echo,
            status="failed",
            error={"code": "server_error", "message": message},
        )
        self.response = response
        event = {"type": "response.failed", "response": response, "sequence_number": self._sequence}
        return streams.named_event(event)


class MessagesPassthrough(_Passthrough):
    """Anthropic's events as they are; `message_stop` ends the answer."""

    def feed(self, events: bytes) -> bytes:
        if self.closed:
            return b""
        if MESSAGES_DELTA in events:
            for event in events.split(b"\n\n"):
                if event.startswith(MESSAGES_DELTA):
                    self.output_chars += _delta_chars(_payload(event))
        if b"event: message_stop" in events:
            self.closed = True
        return events

    def _failure(self, message: str) -> bytes:
        return streams.named_event(
            {"type": "error", "error": {"type": "api_error", "message": message}}
        )


def _payload(event: bytes) -> object:
    """The JSON of an event's (single) data line; None when it is not JSON."""
    start = event.find(b"data:")
    try:
        return orjson.loads(event[start + 5 :]) if start >= 0 else None
    except orjson.JSONDecodeError:
        return None


def _delta_chars(payload: object) -> int:
    """The characters a `content_block_delta` adds: text, tool input JSON, thinking."""
    delta = payload.get("delta") if isinstance(payload, dict) else None
    if not isinstance(delta, dict):
        return 0
    for field in ("text", "partial_json", "thinking"):
        value = delta.get(field)
        if isinstance(value, str):
            return len(value)
    return 0


def _type_of(event: bytes) -> bytes:
    payload = _payload(event)
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind.encode() if isinstance(kind, str) else b""
