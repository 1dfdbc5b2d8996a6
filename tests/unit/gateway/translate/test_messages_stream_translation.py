"""Chat Completions streams become Anthropic Messages event streams, one content block at a
time, that the official SDK's stream helper puts together into the whole-answer translation."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from runestone_gateway.translate import messages_answer, messages_stream, streams
from unit.gateway.translate import oracles

REQUEST: dict[str, Any] = {"model": "client-model", "max_tokens": 100, "messages": []}


def streamed(
    answer: dict[str, Any],
    *,
    size: int = 3,
    interleave: bool = False,
    request: dict[str, Any] = REQUEST,
) -> tuple[bytes, messages_stream.StreamTranslator]:
    translating = messages_stream.StreamTranslator(request)
    events = oracles.stream_of(answer, size=size, interleave=interleave)
    raw = b"".join(translating.feed(event) for event in events) + translating.end()
    return raw, translating


def assert_same_message(
    raw: bytes, answer: dict[str, Any], request: dict[str, Any] = REQUEST
) -> None:
    built = oracles.sdk_message_stream(raw)
    expected = oracles.sdk_message(messages_answer.to_message(answer, request))
    assert oracles.comparable(built.model_dump()) == oracles.comparable(expected.model_dump())


def assert_blocks_one_at_a_time(raw: bytes) -> None:
    """Each block starts, takes its deltas and stops before the next starts."""
    open_index = None
    next_index = 0
    for event in oracles.named_events(raw):
        if event["type"] == "content_block_start":
            assert open_index is None
            assert event["index"] == next_index
            open_index = event["index"]
            next_index += 1
        elif event["type"] == "content_block_delta":
            assert event["index"] == open_index
        elif event["type"] == "content_block_stop":
            assert event["index"] == open_index
            open_index = None
    assert open_index is None


ANSWERS = {
    **oracles.ANSWERS,
    "refusal": oracles.chat_answer(None, refusal="I can't help.", finish="content_filter"),
    "cut short": oracles.chat_answer("Once upon a", finish="length"),
}
WEATHER = oracles.WEATHER


@pytest.mark.parametrize("name", list(ANSWERS))
def test_the_sdk_assembles_the_whole_answer(name: str) -> None:
    raw, _ = streamed(ANSWERS[name])
    assert_blocks_one_at_a_time(raw)
    assert_same_message(raw, ANSWERS[name])


def test_the_event_sequence() -> None:
    raw, _ = streamed(ANSWERS["text and two tools"], size=100)
    assert [event["type"] for event in oracles.named_events(raw)] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_arguments_split_into_single_characters_stream_live() -> None:
    answer = ANSWERS["text and two tools"]
    raw, _ = streamed(answer, size=1)
    deltas = [
        event
        for event in oracles.named_events(raw)
        if event["type"] == "content_block_delta" and event["delta"]["type"] == "input_json_delta"
    ]
    assert len(deltas) == len(WEATHER) + len('{"zone": "Europe/Oslo"}')
    assert_same_message(raw, answer)


def test_interleaved_parallel_tool_calls_keep_blocks_in_order() -> None:
    answer = oracles.chat_answer(
        "Three calls.", tool_calls=oracles.THREE_CALLS, finish="tool_calls"
    )
    raw, _ = streamed(answer, size=2, interleave=True)
    assert_blocks_one_at_a_time(raw)
    assert_same_message(raw, answer)
    first_tool = [
        event
        for event in oracles.named_events(raw)
        if event["type"] == "content_block_delta" and event["index"] == 1
    ]
    assert len(first_tool) > 1  # the first call streamed live; the others waited whole


def test_text_after_tool_calls_is_a_block_of_its_own() -> None:
    translating = messages_stream.StreamTranslator(REQUEST)
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    raw = translating.feed(oracles.event(oracles.chunk({"content": "Before."})))
    raw += translating.feed(oracles.event(oracles.chunk({"tool_calls": [call]})))
    raw += translating.feed(oracles.event(oracles.chunk({"content": "After."})))
    raw += translating.feed(oracles.event(oracles.chunk({}, "tool_calls")) + oracles.DONE)
    assert_blocks_one_at_a_time(raw)
    message = oracles.sdk_message_stream(raw)
    assert [block.type for block in message.content] == ["text", "tool_use", "text"]


def test_a_stop_sequence_the_upstream_names() -> None:
    request = {**REQUEST, "stop_sequences": ["END"]}
    answer = oracles.chat_answer("Done", stop_reason="END")
    raw, _ = streamed(answer, request=request)
    message = oracles.sdk_message_stream(raw)
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    assert_same_message(raw, answer, request)


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
    ],
)
def test_every_finish_reason(finish: str, stop_reason: str) -> None:
    raw, _ = streamed(oracles.chat_answer("x", finish=finish))
    assert oracles.sdk_message_stream(raw).stop_reason == stop_reason


def test_usage_arrives_in_message_delta_after_the_estimate() -> None:
    translating = messages_stream.StreamTranslator(REQUEST, input_tokens=1500)
    raw = b"".join(
        translating.feed(event)
        for event in oracles.stream_of(ANSWERS["cached and reasoning usage"])
    )
    events = oracles.named_events(raw)
    assert events[0]["message"]["usage"]["input_tokens"] == 1500
    assert events[-2]["usage"] == {
        "input_tokens": 512,
        "output_tokens": 90,
        "cache_creation_input_tokens": 512,
        "cache_read_input_tokens": 1024,
        "output_tokens_details": {"thinking_tokens": 64},
    }
    usage = oracles.sdk_message_stream(raw).usage
    assert (
        usage.input_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens,
    ) == (512, 1024, 512)
    assert translating.usage is not None
    assert translating.usage.input_tokens == 2048


def test_a_stream_without_usage_keeps_the_estimate() -> None:
    events = [
        event for event in oracles.stream_of(oracles.chat_answer("Hi")) if b'"usage"' not in event
    ]
    translating = messages_stream.StreamTranslator(REQUEST, input_tokens=33)
    raw = b"".join(translating.feed(event) for event in events)
    assert oracles.sdk_message_stream(raw).usage.input_tokens == 33


# --- failures


def test_an_upstream_failure_after_the_first_byte_is_an_error_event() -> None:
    translating = messages_stream.StreamTranslator(REQUEST)
    events = oracles.stream_of(ANSWERS["text and two tools"])
    raw = b"".join(translating.feed(event) for event in events[:8])
    raw += translating.fail()
    last = oracles.named_events(raw)[-1]
    assert last == {
        "type": "error",
        "error": {"type": "api_error", "message": streams.STREAM_BROKE},
    }
    with pytest.raises(anthropic.APIStatusError) as caught:
        oracles.sdk_message_stream(raw)
    assert streams.STREAM_BROKE in str(caught.value)
    assert translating.feed(events[9]) == b""
    assert translating.end() == b""


def test_a_failure_before_the_first_byte_is_an_error_the_sdk_raises() -> None:
    translating = messages_stream.StreamTranslator(REQUEST)
    assert not translating.started
    raw = translating.fail("The upstream is unavailable.")
    assert oracles.named_events(raw)[-1]["type"] == "error"
    with pytest.raises(anthropic.APIStatusError):
        oracles.sdk_message_stream(raw)


def test_an_error_event_or_garbage_from_the_upstream_is_an_error_event() -> None:
    for bad in (b'data: {"error": {"message": "overloaded"}}\n\n', b"data: <html>\n\n"):
        translating = messages_stream.StreamTranslator(REQUEST)
        raw = translating.feed(oracles.event(oracles.chunk({"content": "Hi"})) + bad)
        assert oracles.named_events(raw)[-1]["type"] == "error"


def test_a_stream_that_ends_without_a_finish_reason_is_an_error() -> None:
    translating = messages_stream.StreamTranslator(REQUEST)
    raw = translating.feed(oracles.event(oracles.chunk({"content": "Hi"}))) + translating.end()
    assert oracles.named_events(raw)[-1]["error"]["message"] == streams.ENDED_EARLY
