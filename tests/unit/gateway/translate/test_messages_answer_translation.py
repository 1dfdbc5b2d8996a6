"""Whole Chat Completions answers become Anthropic Messages that the official SDK reads back:
content blocks, stop reasons and usage counted Anthropic's way."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_gateway.translate import messages_answer
from unit.gateway.translate import oracles

REQUEST: dict[str, Any] = {"model": "client-model", "max_tokens": 100, "messages": []}


def translate(
    answer: dict[str, Any], request: dict[str, Any] = REQUEST, **keywords: Any
) -> dict[str, Any]:
    return messages_answer.to_message(answer, request, **keywords)


def test_a_text_answer() -> None:
    message = oracles.sdk_message(
        translate(oracles.chat_answer("Hello, world."), message_id="msg_abc")
    )
    assert message.id == "msg_abc"
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == "client-model"
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "text", "text": "Hello, world."}
    ]
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None


def test_a_generated_message_id() -> None:
    assert translate(oracles.chat_answer())["id"].startswith("msg_")


def test_tool_calls_become_tool_use_blocks_with_parsed_input() -> None:
    answer = oracles.chat_answer(
        "Checking.",
        tool_calls=[
            oracles.tool_call("call_1", "get_weather", '{"city": "Oslo", "days": [1, 2]}'),
            oracles.tool_call("call_2", "now", ""),
        ],
        finish="tool_calls",
    )
    message = oracles.sdk_message(translate(answer))
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "text", "text": "Checking."},
        {
            "type": "tool_use",
            "id": "call_1",
            "name": "get_weather",
            "input": {"city": "Oslo", "days": [1, 2]},
        },
        {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
    ]
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize("arguments", ['{"city": "Os', "[1, 2]", "null"])
def test_arguments_that_are_not_an_object_are_the_empty_input(arguments: str) -> None:
    answer = oracles.chat_answer(
        None, tool_calls=[oracles.tool_call("c", "f", arguments)], finish="length"
    )
    [block] = translate(answer)["content"]
    assert block["input"] == {}


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        ("something_new", "end_turn"),
    ],
)
def test_every_finish_reason(finish: str, stop_reason: str) -> None:
    message = oracles.sdk_message(translate(oracles.chat_answer("x", finish=finish)))
    assert message.stop_reason == stop_reason
    assert message.stop_sequence is None


def test_a_call_that_an_upstream_finished_with_stop_is_tool_use() -> None:
    answer = oracles.chat_answer(
        None, tool_calls=[oracles.tool_call("c", "f", "{}")], finish="stop"
    )
    assert translate(answer)["stop_reason"] == "tool_use"


def test_a_stop_sequence_the_upstream_names() -> None:
    request = {**REQUEST, "stop_sequences": ["END", "STOP"]}
    message = oracles.sdk_message(
        translate(oracles.chat_answer("Done", stop_reason="STOP"), request)
    )
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "STOP")
    other = translate(oracles.chat_answer("Done", stop_reason="</s>"), request)
    assert (other["stop_reason"], other["stop_sequence"]) == ("end_turn", None)


def test_a_refusal_is_text() -> None:
    message = translate(oracles.chat_answer(None, refusal="I can't.", finish="content_filter"))
    assert message["content"] == [{"type": "text", "text": "I can't."}]
    assert message["stop_reason"] == "refusal"


@pytest.mark.parametrize("content", ["", None])
def test_an_empty_answer_has_no_blocks(content: str | None) -> None:
    assert oracles.sdk_message(translate(oracles.chat_answer(content))).content == []


@pytest.mark.parametrize("text", ["  ", "\n", "Grüße, 世界 👋🏽"])
def test_text_comes_back_exactly(text: str) -> None:
    assert translate(oracles.chat_answer(text))["content"] == [{"type": "text", "text": text}]


def test_usage_counts_cached_input_anthropics_way() -> None:
    usage = oracles.chat_usage(1000, 300, cached=600, written=100, reasoning=40)
    message = oracles.sdk_message(translate(oracles.chat_answer(usage=usage)))
    assert message.usage.input_tokens == 300  # neither read from nor written to the cache
    assert message.usage.cache_read_input_tokens == 600
    assert message.usage.cache_creation_input_tokens == 100
    assert message.usage.output_tokens == 300
    assert message.usage.output_tokens_details is not None
    assert message.usage.output_tokens_details.thinking_tokens == 40


def test_usage_without_cache_or_reasoning() -> None:
    usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    assert translate(oracles.chat_answer(usage=usage))["usage"] == {
        "input_tokens": 7,
        "output_tokens": 2,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"choices": [{"message": None, "finish_reason": None}]},
        {"choices": [{"message": {"content": 5, "tool_calls": [3, {"id": 4, "function": []}]}}]},
    ],
)
def test_an_answer_in_the_wrong_shape_still_gives_a_message(answer: dict[str, Any]) -> None:
    message = oracles.sdk_message(translate(answer))
    assert message.stop_reason in ("end_turn", "tool_use")
    assert all(block.type == "tool_use" for block in message.content)
