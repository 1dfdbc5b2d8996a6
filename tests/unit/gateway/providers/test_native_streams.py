"""Streams in an upstream's own API (Responses, Messages), relayed by the providers: events leave
grouped as they arrived, the answer ends with its API's last event, usage (cached tokens
included) is read from the events that carry it, and an `error` event or a stream cut short is
an UpstreamError, after the events before it have gone out."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson
import pytest

from runestone_gateway.providers import base, native


def named(kind: str, **fields: Any) -> bytes:
    return f"event: {kind}\ndata: ".encode() + orjson.dumps({"type": kind, **fields}) + b"\n\n"


RESPONSES_USAGE = {
    "input_tokens": 100,
    "input_tokens_details": {"cached_tokens": 60},
    "output_tokens": 7,
    "output_tokens_details": {"reasoning_tokens": 2},
}
RESPONSES = [
    named("response.created", response={"id": "resp_1", "status": "in_progress", "usage": None}),
    named("response.output_text.delta", delta="Hel"),
    named("response.output_text.delta", delta="lo"),
    named("response.completed", response={"id": "resp_1", "usage": RESPONSES_USAGE}),
]
MESSAGES = [
    named(
        "message_start",
        message={
            "id": "msg_1",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 200, "output_tokens": 1},
        },
    ),
    named("ping"),
    named("content_block_delta", index=0, delta={"type": "text_delta", "text": "Hi"}),
    named("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 9}),
    named("message_stop"),
]


class Response:
    def __init__(self) -> None:
        self.outcome = ""

    def release(self) -> None:
        self.outcome = "released"

    def close(self) -> None:
        self.outcome = "closed"


class Upstream:
    """The part of `http.Upstream` the relay uses: the body's chunks as they arrive."""

    provider = "up"

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def chunks(self, response: Response) -> AsyncGenerator[bytes, None]:
        for chunk in self._chunks:
            yield chunk


async def relayed(
    chunks: list[bytes], reader: native.Reader
) -> tuple[list[bytes], base.UsageMeter, Response, base.UpstreamError | None]:
    meter, response = base.UsageMeter(), Response()
    out: list[bytes] = []
    failure = None
    try:
        async for events in native.relay(Upstream(chunks), response, reader, meter):  # type: ignore[arg-type]
            out.append(events)
    except base.UpstreamError as error:
        failure = error
    return out, meter, response, failure


async def test_a_responses_stream_ends_with_its_completion_and_its_usage() -> None:
    # Split mid-event, and two events in one chunk.
    raw = b"".join(RESPONSES)
    cut = raw.index(b"Hel") + 1
    out, meter, response, failure = await relayed(
        [raw[:cut], raw[cut:], b"trailing bytes the relay never reads"],
        native.ResponsesReader("up"),
    )
    assert failure is None
    assert b"".join(out) == raw
    assert out[0] == RESPONSES[0], "events leave as whole events"
    assert response.outcome == "released"
    assert meter.usage == base.Usage(100, 7, cache_read_tokens=60, reasoning_tokens=2)


async def test_unnamed_responses_events_are_read_by_their_type() -> None:
    unnamed = [event[event.index(b"\n") + 1 :] for event in RESPONSES]
    _, meter, response, failure = await relayed(unnamed, native.ResponsesReader("up"))
    assert failure is None
    assert response.outcome == "released"
    assert meter.usage is not None
    assert meter.usage.cache_read_tokens == 60


async def test_a_messages_stream_sums_its_usage_over_start_and_delta() -> None:
    out, meter, response, failure = await relayed(
        [b"".join(MESSAGES[:3]), b"".join(MESSAGES[3:])], native.MessagesReader("up")
    )
    assert failure is None
    assert b"".join(out) == b"".join(MESSAGES)
    assert response.outcome == "released"
    # Anthropic's input excludes the cache; the record counts every prompt token.
    assert meter.usage == base.Usage(210, 9, cache_read_tokens=200)


@pytest.mark.parametrize(
    ("reader", "events", "error", "kind"),
    [
        (
            native.MessagesReader("up"),
            MESSAGES,
            named("error", error={"type": "overloaded_error", "message": "busy"}),
            base.FailureKind.STATUS,
        ),
        (
            native.MessagesReader("up"),
            MESSAGES,
            named("error", error={"type": "rate_limit_error", "message": "slow"}),
            base.FailureKind.RATE_LIMITED,
        ),
        (
            native.ResponsesReader("up"),
            RESPONSES,
            named("error", code="server_error", message="boom"),
            base.FailureKind.STATUS,
        ),
    ],
)
async def test_an_error_event_fails_after_the_events_before_it(
    reader: native.Reader, events: list[bytes], error: bytes, kind: base.FailureKind
) -> None:
    out, _, response, failure = await relayed([events[0] + error + events[1]], reader)
    assert out == [events[0]]
    assert failure is not None
    assert failure.kind is kind
    assert response.outcome == "closed", "an unfinished answer drops its connection"


@pytest.mark.parametrize(
    ("reader", "events"),
    [(native.ResponsesReader("up"), RESPONSES), (native.MessagesReader("up"), MESSAGES)],
)
async def test_a_stream_cut_before_its_last_event_is_a_protocol_failure(
    reader: native.Reader, events: list[bytes]
) -> None:
    out, _, response, failure = await relayed([b"".join(events[:-1])], reader)
    assert b"".join(out) == b"".join(events[:-1])
    assert failure is not None
    assert failure.kind is base.FailureKind.PROTOCOL
    assert response.outcome == "closed"


def test_the_request_goes_through_with_the_upstreams_model_name_only() -> None:
    body = {"model": "client-name", "input": "hi", "store": True, "tools": [{"type": "x"}]}
    call = base.Call("chat", body, "upstream-name", api="responses")
    assert orjson.loads(native.body(call)) == {**body, "model": "upstream-name"}
