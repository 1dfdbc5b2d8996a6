"""Streams relayed in the client's own API: a Responses upstream's events go through as they are
but for the response object, which says what the gateway does with it (`store`,
`previous_response_id`); Anthropic's go through byte for byte. Both end a broken stream with
their API's failure event, which the official SDKs read."""

from __future__ import annotations

from typing import Any

import anthropic
import orjson
import pytest

from fixtures.upstreams import control, responses_wire
from runestone_gateway.api import passthrough
from runestone_gateway.translate import streams
from unit.gateway.translate import oracles

BODY = {"model": "upstream-model", "input": "hi", "stream": True}


async def upstream_events(tool_call: tuple[str, dict[str, Any]] | None = None) -> list[bytes]:
    """What the OpenAI stand-in streams for BODY: OpenAI's wire format."""
    behaviour = control.Behaviour(text="one two three", tool_call=tool_call, cached_tokens=3)
    body = {**BODY, "tools": [{"type": "function", "name": "f"}]} if tool_call else BODY
    return [event async for event in responses_wire.Answer(body, behaviour, 11).events()]


def relayed(
    events: list[bytes], *, store: bool = True, previous: str | None = "resp_before"
) -> tuple[passthrough.ResponsesPassthrough, bytes]:
    shaper = passthrough.ResponsesPassthrough(store=store, previous_response_id=previous)
    # Grouped as an upstream's chunks might arrive: two events, then one, then the rest.
    out = shaper.feed(b"".join(events[:2])) + shaper.feed(events[2])
    out += shaper.feed(b"".join(events[3:]))
    return shaper, out + shaper.end()


async def test_a_responses_stream_goes_through_with_the_gateways_store_fields() -> None:
    events = await upstream_events()
    shaper, out = relayed(events)
    sent = oracles.named_events(out)
    upstream = oracles.named_events(b"".join(events))
    assert [event["type"] for event in sent] == [event["type"] for event in upstream]
    for before, after in zip(upstream, sent, strict=True):
        if "response" in before:
            assert after["response"]["store"] is True
            assert after["response"]["previous_response_id"] == "resp_before"
            before["response"].update(store=True, previous_response_id="resp_before")
        assert after == before  # nothing else changed
    deltas = [event for event in events if b"output_text.delta" in event]
    assert all(delta in out for delta in deltas), "deltas go through byte for byte"
    assert shaper.closed
    assert shaper.response is not None
    assert shaper.response["status"] == "completed"
    assert shaper.usage is not None
    assert (shaper.usage.input_tokens, shaper.usage.cache_read_tokens) == (11, 3)
    sdk = oracles.SdkResponseStream(out)
    assert sdk.final is not None
    assert sdk.final.output_text == "one two three"
    # The deltas' characters, for a charge should no usage come: not the `.done` events'
    # repeat of the text, nor the response objects'.
    assert shaper.output_chars == len("one two three")


async def test_a_streamed_function_call_goes_through_whole() -> None:
    events = await upstream_events(("f", {"city": "Oslo"}))
    shaper, out = relayed(events, store=False, previous=None)
    sdk = oracles.SdkResponseStream(out)
    assert sdk.final is not None
    (call,) = sdk.final.output
    assert call.type == "function_call"
    assert orjson.loads(call.arguments) == {"city": "Oslo"}
    assert shaper.output_chars == len(call.arguments)
    assert sdk.snapshots()[0] == '{"city": "Oslo"}'


async def test_a_server_that_does_not_name_its_events_is_read_by_their_type() -> None:
    events = await upstream_events()
    unnamed = [event[event.index(b"\n") + 1 :] for event in events]  # "data: ..." only
    shaper, out = relayed(unnamed)
    assert shaper.closed
    assert b'"store":true' in out


@pytest.mark.parametrize("cut", [1, 5])
async def test_a_broken_responses_stream_ends_with_response_failed(cut: int) -> None:
    events = await upstream_events()
    shaper = passthrough.ResponsesPassthrough(store=False, previous_response_id=None)
    out = shaper.feed(b"".join(events[:cut])) + shaper.fail()
    assert shaper.closed
    assert shaper.fail() == b""  # the end is said once
    assert shaper.end() == b""
    sent = oracles.named_events(out)
    failed = sent[-1]
    assert failed["type"] == "response.failed"
    assert failed["sequence_number"] == cut
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {
        "code": "server_error",
        "message": streams.STREAM_BROKE,
    }
    assert failed["response"]["id"].startswith(responses_wire.RESPONSE_ID_PREFIX)
    sdk = oracles.SdkResponseStream(out)
    assert sdk.types[-1] == "response.failed"


async def test_a_responses_stream_cut_before_its_last_event_fails() -> None:
    events = await upstream_events()
    shaper = passthrough.ResponsesPassthrough(store=True, previous_response_id=None)
    shaper.feed(b"".join(events[:-1]))
    failed = oracles.named_events(shaper.end())[-1]
    assert failed["response"]["error"]["message"] == streams.ENDED_EARLY


MESSAGES_EVENTS = [
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":'
    b'"message","role":"assistant","model":"claude","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}\n\n',
    b'event: ping\ndata: {"type": "ping"}\n\n',
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hello"}}\n\n',
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
    b'"stop_sequence":null},"usage":{"output_tokens":2}}\n\n',
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]


def test_a_messages_stream_goes_through_byte_for_byte() -> None:
    shaper = passthrough.MessagesPassthrough()
    out = b"".join(shaper.feed(event) for event in MESSAGES_EVENTS[:-1])
    assert not shaper.closed
    out += shaper.feed(MESSAGES_EVENTS[-1]) + shaper.end()
    assert shaper.closed
    assert out == b"".join(MESSAGES_EVENTS)
    assert shaper.output_chars == len("Hello")
    (block,) = oracles.sdk_message_stream(out).content
    assert block.type == "text"
    assert block.text == "Hello"


def test_a_broken_messages_stream_ends_with_anthropics_error_event() -> None:
    shaper = passthrough.MessagesPassthrough()
    out = shaper.feed(b"".join(MESSAGES_EVENTS[:4])) + shaper.fail()
    assert oracles.named_events(out)[-1] == {
        "type": "error",
        "error": {"type": "api_error", "message": streams.STREAM_BROKE},
    }
    with pytest.raises(anthropic.APIStatusError) as raised:
        oracles.sdk_message_stream(out)
    assert "failed during the stream" in raised.value.message
