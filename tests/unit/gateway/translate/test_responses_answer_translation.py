"""Whole Chat Completions answers become Responses objects that the official SDK reads back:
output items, status, usage and the request's settings repeated."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
import pytest

from runestone_gateway.translate import responses_answer
from unit.gateway.translate import oracles

REQUEST: dict[str, Any] = {"model": "client-model", "input": "Hi"}


def translate(
    answer: dict[str, Any], request: dict[str, Any] = REQUEST, **keywords: Any
) -> dict[str, Any]:
    context = responses_answer.context(request, store=False, **keywords)
    return responses_answer.to_response(answer, context)


def test_a_text_answer() -> None:
    body = translate(
        oracles.chat_answer("Hello, world."), response_id="resp_abc", created_at=1_700_000_123
    )
    response = oracles.sdk_response(body)
    assert response.id == "resp_abc"
    assert response.object == "response"
    assert response.created_at == 1_700_000_123
    assert response.status == "completed"
    assert response.completed_at is not None
    assert response.model == "client-model"
    assert response.error is None
    assert response.incomplete_details is None
    assert response.output_text == "Hello, world."
    [message] = response.output
    assert message.type == "message"
    assert message.id.startswith("msg_")
    assert message.status == "completed"
    assert message.role == "assistant"
    assert [part.model_dump() for part in message.content] == [
        {"type": "output_text", "text": "Hello, world.", "annotations": [], "logprobs": []}
    ]


def test_a_generated_response_id() -> None:
    body = translate(oracles.chat_answer())
    assert body["id"].startswith("resp_")
    assert len(body["id"]) > 20


def test_tool_calls_become_function_call_items_after_the_text() -> None:
    answer = oracles.chat_answer(
        "Let me check.",
        tool_calls=[
            oracles.tool_call("call_1", "get_weather", '{"city":"Oslo"}'),
            oracles.tool_call("call_2", "get_time", ""),
        ],
        finish="tool_calls",
    )
    response = oracles.sdk_response(translate(answer))
    assert response.status == "completed"
    message, first, second = response.output
    assert message.type == "message"
    assert first.type == "function_call"
    assert second.type == "function_call"
    assert first.id is not None
    assert first.id.startswith("fc_")
    assert (first.call_id, first.name, first.arguments, first.status) == (
        "call_1",
        "get_weather",
        '{"city":"Oslo"}',
        "completed",
    )
    assert (second.call_id, second.name, second.arguments) == ("call_2", "get_time", "")


def test_tool_calls_without_text_have_no_message() -> None:
    answer = oracles.chat_answer(
        None, tool_calls=[oracles.tool_call("c", "f", "{}")], finish="tool_calls"
    )
    assert [item["type"] for item in translate(answer)["output"]] == ["function_call"]


def test_a_tool_call_without_an_id_gets_one() -> None:
    call = {"type": "function", "function": {"name": "f", "arguments": "{}"}}
    [item] = translate(oracles.chat_answer("", tool_calls=[call], finish="tool_calls"))["output"]
    assert item["call_id"].startswith("call_")


@pytest.mark.parametrize(
    ("finish", "status", "reason"),
    [
        ("stop", "completed", None),
        ("tool_calls", "completed", None),
        ("function_call", "completed", None),
        ("length", "incomplete", "max_output_tokens"),
        ("content_filter", "incomplete", "content_filter"),
    ],
)
def test_every_finish_reason(finish: str, status: str, reason: str | None) -> None:
    response = oracles.sdk_response(translate(oracles.chat_answer("Cut", finish=finish)))
    assert response.status == status
    if reason is None:
        assert response.incomplete_details is None
        assert response.completed_at is not None
    else:
        assert response.incomplete_details is not None
        assert response.incomplete_details.reason == reason
        assert response.completed_at is None
    assert response.output[-1].model_dump()["status"] == ("incomplete" if reason else "completed")


def test_only_the_item_cut_short_is_incomplete() -> None:
    answer = oracles.chat_answer(
        "Let me check.", tool_calls=[oracles.tool_call("c", "f", '{"a": ')], finish="length"
    )
    statuses = [item["status"] for item in translate(answer)["output"]]
    assert statuses == ["completed", "incomplete"]


def test_a_refusal_is_a_refusal_part() -> None:
    response = oracles.sdk_response(translate(oracles.chat_answer(None, refusal="I can't help.")))
    [message] = response.output
    assert message.type == "message"
    assert [part.model_dump() for part in message.content] == [
        {"type": "refusal", "refusal": "I can't help."}
    ]
    assert response.output_text == ""


@pytest.mark.parametrize("content", ["", None])
def test_an_empty_answer_is_an_empty_message(content: str | None) -> None:
    response = oracles.sdk_response(translate(oracles.chat_answer(content)))
    assert response.output_text == ""
    [message] = response.output
    assert message.type == "message"
    assert [part.type for part in message.content] == ["output_text"]


@pytest.mark.parametrize("text", ["   ", "\n", "Grüße, 世界 👋🏽 \u2028"])
def test_text_comes_back_exactly(text: str) -> None:
    assert oracles.sdk_response(translate(oracles.chat_answer(text))).output_text == text


def test_usage_with_cached_written_and_reasoning_tokens() -> None:
    usage = oracles.chat_usage(1000, 300, cached=600, written=100, reasoning=120)
    response = oracles.sdk_response(translate(oracles.chat_answer(usage=usage)))
    assert response.usage is not None
    assert response.usage.model_dump() == {
        "input_tokens": 1000,
        "input_tokens_details": {
            "cached_tokens": 600,
            "cache_write_tokens": 100,
            "cache_write_tokens_details": None,
        },
        "output_tokens": 300,
        "output_tokens_details": {"reasoning_tokens": 120},
        "total_tokens": 1300,
    }


def test_usage_without_details_counts_nothing_cached() -> None:
    usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    body = translate(oracles.chat_answer(usage=usage))
    assert body["usage"]["input_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 0}
    assert body["usage"]["output_tokens_details"] == {"reasoning_tokens": 0}


def test_an_answer_without_usage_says_so() -> None:
    answer = oracles.chat_answer()
    del answer["usage"]
    assert translate(answer)["usage"] is None


def test_the_request_settings_are_repeated() -> None:
    request = {
        "model": "client-model",
        "input": "Hi",
        "instructions": "Be brief.",
        "tools": [
            {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}
        ],
        "tool_choice": {"type": "function", "name": "f"},
        "parallel_tool_calls": False,
        "temperature": 0.5,
        "top_p": 0.9,
        "max_output_tokens": 50,
        "metadata": {"team": "a"},
        "text": {"format": {"type": "json_object"}},
        "previous_response_id": "resp_before",
        "user": "u-1",
        "reasoning": {"effort": "low"},
        "truncation": "auto",
    }
    context = responses_answer.context(request, store=True)
    response = oracles.sdk_response(responses_answer.to_response(oracles.chat_answer(), context))
    assert response.instructions == "Be brief."
    assert [tool.model_dump(exclude_none=True) for tool in response.tools] == [
        {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}
    ]
    assert response.tool_choice.model_dump() == {"type": "function", "name": "f"}  # type: ignore[union-attr]
    assert response.parallel_tool_calls is False
    assert (response.temperature, response.top_p, response.max_output_tokens) == (0.5, 0.9, 50)
    assert response.metadata == {"team": "a"}
    assert response.text is not None
    assert response.text.format is not None
    assert response.text.format.type == "json_object"
    assert response.previous_response_id == "resp_before"
    assert response.user == "u-1"
    assert response.reasoning is not None
    assert response.reasoning.effort == "low"
    assert response.truncation == "auto"
    body = orjson.loads(orjson.dumps(responses_answer.to_response(oracles.chat_answer(), context)))
    assert body["store"] is True
    assert body["background"] is False


def test_the_defaults_repeated_for_a_bare_request() -> None:
    body = translate(oracles.chat_answer())
    assert {key: body[key] for key in responses_answer.context(REQUEST, store=False).echo} == {
        "background": False,
        "instructions": None,
        "max_output_tokens": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": None,
        "store": False,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "user": None,
    }


class Weather(pydantic.BaseModel):
    city: str
    celsius: int


def test_structured_output_parses_in_the_sdk() -> None:
    request = {
        "model": "client-model",
        "input": "Weather in Oslo?",
        "text": {
            "format": {
                "type": "json_schema",
                "name": "Weather",
                "schema": Weather.model_json_schema(),
                "strict": True,
            }
        },
    }
    body = translate(oracles.chat_answer('{"city": "Oslo", "celsius": 4}'), request)
    client = oracles.openai_client(orjson.dumps(body))
    parsed = client.responses.parse(
        model="client-model", input="Weather in Oslo?", text_format=Weather
    )
    assert parsed.output_parsed == Weather(city="Oslo", celsius=4)


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"choices": "x"},
        {"choices": [None]},
        {"choices": [{"message": ["Hello"]}]},
        {
            "choices": [
                {"message": {"content": 5, "refusal": 3, "tool_calls": [3, {"function": "f"}]}}
            ]
        },
        {"choices": [{"message": {"content": [{"type": "text", "text": "Hello"}, 3]}}], "usage": 9},
    ],
)
def test_an_answer_in_the_wrong_shape_still_gives_a_response(answer: dict[str, Any]) -> None:
    response = oracles.sdk_response(translate(answer))
    assert response.output_text in ("", "Hello")
    assert response.usage is None
