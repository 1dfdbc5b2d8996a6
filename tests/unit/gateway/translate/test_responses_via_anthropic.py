"""A Responses request to an Anthropic upstream goes Responses -> Chat Completions -> the
Anthropic provider's own chat <-> Messages translation (providers.anthropic_wire and
anthropic_stream), and its answer back the same way: tool round trips, stop reasons and usage
through the whole chain."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from runestone_gateway.providers import anthropic_stream, anthropic_wire, base
from runestone_gateway.translate import (
    reasons,
    responses_answer,
    responses_request,
    responses_stream,
)
from unit.gateway.translate import oracles

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
REQUEST: dict[str, Any] = {"model": "client-model", "input": "Weather in Oslo?", "tools": TOOLS}
MESSAGE: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-upstream",
    "content": [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Oslo"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 300,
        "cache_read_input_tokens": 600,
        "cache_creation_input_tokens": 100,
        "output_tokens": 40,
    },
}


def messages_request(
    request: dict[str, Any], history: list[Any] | None = None, *, stream: bool = False
) -> dict[str, Any]:
    chat = responses_request.to_chat_request(request, history=history or [])
    return anthropic_wire.to_messages_request(
        base.Call("chat", chat, "claude-upstream"), stream=stream
    )


def answered(message: dict[str, Any], request: dict[str, Any] = REQUEST) -> dict[str, Any]:
    chat = anthropic_wire.from_message(message, "chat", 1_700_000_000)
    return responses_answer.to_response(chat, responses_answer.context(request, store=False))


def messages_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream Anthropic sends for `message`, its tool input in small pieces."""
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {**message["usage"], "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}, {"type": "ping"}]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                }
            )
            events += [
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                }
                for piece in oracles.pieces(block["text"], 4)
            ]
        else:
            events.append(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {**block, "input": {}},
                }
            )
            json = orjson.dumps(block["input"]).decode()
            events += [
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                }
                for piece in oracles.pieces(json, 3)
            ]
        events.append({"type": "content_block_stop", "index": index})
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(
        {
            "type": "message_delta",
            "delta": delta,
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        }
    )
    events.append({"type": "message_stop"})
    return events


def streamed(message: dict[str, Any]) -> bytes:
    """What the Anthropic provider's stream gives (chat chunks), translated to Responses."""
    from_messages = anthropic_stream.StreamTranslator("chat", 1_700_000_000)
    to_responses = responses_stream.StreamTranslator(responses_answer.context(REQUEST, store=False))
    raw = b""
    for event in messages_events(message):
        for chunk in from_messages.feed(event["type"], event):
            raw += to_responses.feed(oracles.event(chunk))
    raw += to_responses.feed(oracles.event(from_messages.usage_chunk()) + oracles.DONE)
    return raw + to_responses.end()


def test_the_stop_reason_tables_agree_with_the_anthropic_provider() -> None:
    assert reasons.FINISH_BY_STOP_REASON == anthropic_wire.FINISH_REASONS
    for stop_reason, finish in reasons.FINISH_BY_STOP_REASON.items():
        if stop_reason in ("end_turn", "max_tokens", "tool_use", "refusal"):
            assert reasons.STOP_REASON_BY_FINISH[finish] == stop_reason


def test_a_tool_round_trip() -> None:
    first = messages_request(
        {
            **REQUEST,
            "instructions": "Be brief.",
            "tool_choice": "required",
            "max_output_tokens": 200,
        }
    )
    assert first["system"] == "Be brief."
    assert first["max_tokens"] == 200
    assert first["tools"] == [
        {"name": "get_weather", "description": "", "input_schema": TOOLS[0]["parameters"]}
    ]
    assert first["tool_choice"] == {"type": "any"}

    response = oracles.sdk_response(answered(MESSAGE))
    assert response.output_text == "Checking."
    call = response.output[1]
    assert call.type == "function_call"
    assert (call.call_id, call.name, orjson.loads(call.arguments)) == (
        "toolu_01",
        "get_weather",
        {"city": "Oslo"},
    )

    # The next turn: the earlier input and output, then the call's result.
    history = [*responses_request.input_items(REQUEST), *answered(MESSAGE)["output"]]
    follow_up = {
        "model": "client-model",
        "tools": TOOLS,
        "input": [{"type": "function_call_output", "call_id": "toolu_01", "output": "4 °C"}],
    }
    second = messages_request(follow_up, history)
    assert second["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "4 °C"}],
        },
    ]


@pytest.mark.parametrize(
    ("stop_reason", "status", "reason"),
    [
        ("end_turn", "completed", None),
        ("stop_sequence", "completed", None),
        ("tool_use", "completed", None),
        ("pause_turn", "completed", None),
        ("max_tokens", "incomplete", "max_output_tokens"),
        ("model_context_window_exceeded", "incomplete", "max_output_tokens"),
        ("refusal", "incomplete", "content_filter"),
    ],
)
def test_every_stop_reason(stop_reason: str, status: str, reason: str | None) -> None:
    body = answered({**MESSAGE, "stop_reason": stop_reason})
    assert body["status"] == status
    assert body["incomplete_details"] == ({"reason": reason} if reason else None)


def test_the_stream_gives_the_whole_answer() -> None:
    raw = streamed(MESSAGE)
    sdk = oracles.SdkResponseStream(raw)
    assert sdk.final is not None
    expected = answered(MESSAGE)
    assert oracles.comparable(sdk.final.model_dump()) == oracles.comparable(
        oracles.sdk_response(expected).model_dump()
    )
    assert sdk.snapshots()[1] == '{"city":"Oslo"}'  # the input_json_delta pieces, put together


def test_cached_input_counts_in_the_total() -> None:
    usage = answered(MESSAGE)["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (
        1000,
        40,
        1040,
    )


def test_cached_input_is_reported_as_cached() -> None:
    details = answered(MESSAGE)["usage"]["input_tokens_details"]
    assert details == {"cached_tokens": 600, "cache_write_tokens": 100}
