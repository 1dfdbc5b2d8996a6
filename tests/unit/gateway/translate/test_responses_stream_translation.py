"""Chat Completions streams become Responses event streams that the official SDK's stream
helper puts together into the same response as the whole-answer translation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from openai.types.responses import Response

from runestone_gateway.translate import responses_answer, responses_stream, streams
from unit.gateway.translate import oracles

REQUEST: dict[str, Any] = {"model": "client-model", "input": "Hi"}


def translator(request: dict[str, Any] = REQUEST) -> responses_stream.StreamTranslator:
    return responses_stream.StreamTranslator(responses_answer.context(request, store=False))


def streamed(
    answer: dict[str, Any], *, size: int = 3, interleave: bool = False
) -> tuple[bytes, responses_stream.StreamTranslator]:
    translating = translator()
    raw = b"".join(
        translating.feed(event)
        for event in oracles.stream_of(answer, size=size, interleave=interleave)
    )
    raw += translating.end()
    return raw, translating


def whole(answer: dict[str, Any]) -> dict[str, Any]:
    return responses_answer.to_response(answer, responses_answer.context(REQUEST, store=False))


ANSWERS = oracles.ANSWERS
WEATHER = oracles.WEATHER


def assert_same_response(raw: bytes, answer: dict[str, Any]) -> None:
    sdk = oracles.SdkResponseStream(raw)
    expected = Response.model_validate(whole(answer))
    assert sdk.final is not None
    assert oracles.comparable(sdk.final.model_dump(exclude={"output"})) == oracles.comparable(
        expected.model_dump(exclude={"output"})
    )
    assert sdk.final.output_text == expected.output_text
    built = sdk.snapshots()
    assert len(sdk.final.output) == len(expected.output)
    for index, (got, want) in enumerate(zip(sdk.final.output, expected.output, strict=True)):
        assert oracles.comparable(got.model_dump()) == oracles.comparable(want.model_dump())
        if got.type == "function_call" and got.arguments:
            assert built[index] == got.arguments  # the deltas alone give the same arguments
        if got.type == "message" and got.content[0].type == "output_text" and got.content[0].text:
            assert built[index] == got.content[0].text


@pytest.mark.parametrize("name", list(ANSWERS))
def test_the_sdk_assembles_the_whole_answer(name: str) -> None:
    raw, _ = streamed(ANSWERS[name])
    assert_same_response(raw, ANSWERS[name])


def test_arguments_split_into_single_characters() -> None:
    answer = ANSWERS["text and two tools"]
    raw, _ = streamed(answer, size=1)
    deltas = [
        event
        for event in oracles.named_events(raw)
        if event["type"] == "response.function_call_arguments.delta"
    ]
    assert len(deltas) == len(WEATHER) + len('{"zone": "Europe/Oslo"}')
    assert_same_response(raw, answer)


def test_parallel_tool_calls_with_interleaved_deltas() -> None:
    answer = oracles.chat_answer(None, tool_calls=oracles.THREE_CALLS, finish="tool_calls")
    raw, _ = streamed(answer, size=2, interleave=True)
    deltas = [
        event["output_index"]
        for event in oracles.named_events(raw)
        if event["type"].endswith("arguments.delta")
    ]
    assert deltas[:3] == [0, 1, 2]  # the calls' pieces really take turns
    assert_same_response(raw, answer)


def test_the_event_sequence_of_a_text_answer() -> None:
    raw, _ = streamed(oracles.chat_answer("Hello there"), size=6)
    events = oracles.named_events(raw)
    assert [event["type"] for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["output"] == []
    assert events[2]["item"]["status"] == "in_progress"
    assert events[6]["text"] == "Hello there"
    assert events[-1]["response"]["usage"]["input_tokens"] == 12


def test_each_tool_call_closes_with_its_arguments() -> None:
    raw, _ = streamed(ANSWERS["text and two tools"])
    events = oracles.named_events(raw)
    done = [event for event in events if event["type"] == "response.function_call_arguments.done"]
    assert [(event["output_index"], event["arguments"]) for event in done] == [
        (1, WEATHER),
        (2, '{"zone": "Europe/Oslo"}'),
    ]
    items = [event["item"] for event in events if event["type"] == "response.output_item.done"]
    assert [item["type"] for item in items] == ["message", "function_call", "function_call"]
    assert items[1]["call_id"] == "call_1"


@pytest.mark.parametrize(
    ("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")]
)
def test_an_answer_cut_short_ends_with_response_incomplete(finish: str, reason: str) -> None:
    answer = oracles.chat_answer("Once upon a", finish=finish)
    raw, translating = streamed(answer)
    sdk = oracles.SdkResponseStream(raw)
    assert sdk.types[-1] == "response.incomplete"
    last = sdk.events[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == reason
    assert last.response.output[0].model_dump()["status"] == "incomplete"
    assert oracles.comparable(last.response.model_dump()) == oracles.comparable(
        Response.model_validate(whole(answer)).model_dump()
    )
    assert translating.response is not None
    assert translating.response["status"] == "incomplete"


@pytest.mark.parametrize("finish", ["stop", "tool_calls", "function_call"])
def test_other_finish_reasons_complete(finish: str) -> None:
    raw, _ = streamed(oracles.chat_answer("Done", finish=finish))
    assert oracles.named_events(raw)[-1]["response"]["status"] == "completed"


def test_usage_is_kept_for_charging() -> None:
    _, translating = streamed(ANSWERS["cached and reasoning usage"])
    assert translating.usage is not None
    assert (translating.usage.input_tokens, translating.usage.cache_read_tokens) == (2048, 1024)
    assert (translating.usage.cache_write_tokens, translating.usage.reasoning_tokens) == (512, 64)


def test_a_stream_without_a_usage_chunk_completes_without_usage() -> None:
    events = [
        event for event in oracles.stream_of(oracles.chat_answer("Hi")) if b'"usage"' not in event
    ]
    translating = translator()
    raw = b"".join(translating.feed(event) for event in events)
    assert oracles.named_events(raw)[-1]["response"]["usage"] is None
    assert translating.usage is None


def test_events_that_arrive_together_are_translated_together() -> None:
    answer = ANSWERS["text and two tools"]
    translating = translator()
    raw = translating.feed(b"".join(oracles.stream_of(answer)))
    one_by_one, _ = streamed(answer)
    assert [event["type"] for event in oracles.named_events(raw)] == [
        event["type"] for event in oracles.named_events(one_by_one)
    ]
    assert_same_response(raw, answer)


def test_data_lines_without_a_space_and_comments() -> None:
    translating = translator()
    chunk = orjson.dumps(oracles.chunk({"content": "Hi"}))
    raw = translating.feed(b": keep-alive\n\n")
    raw += translating.feed(b"data:" + chunk + b"\n\n")
    raw += translating.feed(
        b"event: chunk\ndata: " + orjson.dumps(oracles.chunk({}, "stop")) + b"\n\n"
    )
    raw += translating.feed(b"data:[DONE]\n\n")
    events = oracles.named_events(raw)
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Hi"


# --- failures


def test_an_upstream_failure_after_the_first_byte_ends_with_response_failed() -> None:
    translating = translator()
    events = oracles.stream_of(ANSWERS["text and two tools"])
    raw = b"".join(translating.feed(event) for event in events[:8])
    assert translating.started
    raw += translating.fail()
    sdk = oracles.SdkResponseStream(raw)
    assert sdk.types[-1] == "response.failed"
    failed = sdk.events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    assert failed.response.error.code == "server_error"
    assert failed.response.error.message == streams.STREAM_BROKE
    assert [item.model_dump()["status"] for item in failed.response.output] == [
        "incomplete",
        "incomplete",
    ]
    assert failed.response.output_text == "Checking both."
    assert translating.closed
    assert translating.feed(events[9]) == b""
    assert translating.end() == b""
    assert translating.fail() == b""


def test_a_failure_before_the_first_byte_is_still_a_whole_stream() -> None:
    translating = translator()
    assert not translating.started
    raw = translating.fail("The upstream is unavailable.")
    sdk = oracles.SdkResponseStream(raw)
    assert sdk.types == ["response.created", "response.in_progress", "response.failed"]
    failed = sdk.events[-1]
    assert failed.type == "response.failed"
    assert failed.response.error is not None
    assert failed.response.error.message == "The upstream is unavailable."
    assert failed.response.output == []


def test_an_error_event_from_the_upstream_fails_the_response() -> None:
    translating = translator()
    raw = translating.feed(oracles.event(oracles.chunk({"content": "Hi"})))
    raw += translating.feed(
        b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    )
    events = oracles.named_events(raw)
    assert events[-1]["type"] == "response.failed"
    assert "overloaded" not in raw.decode()  # the upstream's own words stay with the gateway


def test_an_event_that_is_not_json_fails_the_response() -> None:
    translating = translator()
    raw = translating.feed(oracles.event(oracles.chunk({"content": "Hi"})) + b"data: {not json\n\n")
    assert oracles.named_events(raw)[-1]["type"] == "response.failed"


def test_a_stream_that_ends_without_a_finish_reason_failed() -> None:
    translating = translator()
    raw = translating.feed(oracles.event(oracles.chunk({"content": "Hi"})))
    raw += translating.end()
    failed = oracles.named_events(raw)[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"]["message"] == streams.ENDED_EARLY


def test_a_stream_that_finished_but_lost_done_completes_at_its_end() -> None:
    translating = translator()
    events = oracles.stream_of(oracles.chat_answer("Hi"))[:-1]
    raw = b"".join(translating.feed(event) for event in events)
    assert not translating.closed
    raw += translating.end()
    assert oracles.named_events(raw)[-1]["type"] == "response.completed"


def test_parts_of_chunks_in_the_wrong_shape_are_left_out() -> None:
    translating = translator()
    odd: list[dict[str, Any]] = [
        {"choices": ["x"]},
        {"choices": "x"},
        {"choices": [{"delta": "text"}]},
        {"choices": [{"delta": {"content": 5, "refusal": ["no"], "tool_calls": "f"}}]},
        {"choices": [{"delta": {"tool_calls": [5, {"index": "0", "id": 7, "function": "f"}]}}]},
        {
            "choices": [
                {"delta": {"tool_calls": [{"index": 0, "function": {"name": 3, "arguments": {}}}]}}
            ]
        },
        {"choices": [{"delta": {}, "finish_reason": 5}]},
        {"usage": "lots"},
    ]
    raw = b"".join(translating.feed(oracles.event(chunk)) for chunk in odd)
    raw += translating.feed(oracles.event(oracles.chunk({"content": "Hi"}, "stop")) + oracles.DONE)
    sdk = oracles.SdkResponseStream(raw)
    assert sdk.final is not None
    assert sdk.final.status == "completed"
    assert sdk.final.output_text == "Hi"
    [call] = [item for item in sdk.final.output if item.type == "function_call"]
    assert (call.name, call.arguments) == ("", "")
    assert call.call_id.startswith("call_")
