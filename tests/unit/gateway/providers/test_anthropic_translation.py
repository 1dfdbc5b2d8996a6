"""OpenAI requests to Anthropic Messages requests, and Anthropic answers back, without a network."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runestone_gateway import errors
from runestone_gateway.providers import anthropic_stream, anthropic_wire, base


def chat(body: dict[str, Any]) -> dict[str, Any]:
    return anthropic_wire.to_messages_request(
        base.Call("chat", {"model": "client-name", **body}, "claude-up"), stream=False
    )


def test_system_messages_become_the_system_prompt() -> None:
    request = chat(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
                {"role": "user", "content": "Hi"},
            ]
        }
    )
    assert request["system"] == "Be brief.\n\nUse metric units."
    assert request["model"] == "claude-up"
    assert request["max_tokens"] == anthropic_wire.DEFAULT_MAX_TOKENS
    assert request["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]


def test_parameters_are_carried_over() -> None:
    request = chat(
        {
            "messages": [{"role": "user", "content": "Hi"}],
            "max_completion_tokens": 77,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": "END",
            "user": "u-1",
        }
    )
    assert request["max_tokens"] == 77
    assert request["temperature"] == 0.2
    assert request["top_p"] == 0.9
    assert request["stop_sequences"] == ["END"]
    assert request["metadata"] == {"user_id": "u-1"}
    assert "stream" not in request


def test_tools_and_tool_choices() -> None:
    tools = [
        {
            "type": "function",
            "function": {"name": "f", "description": "d", "parameters": {"type": "object"}},
        },
        {"type": "function", "function": {"name": "g"}},
    ]
    request = chat({"messages": [{"role": "user", "content": "x"}], "tools": tools})
    assert request["tools"] == [
        {"name": "f", "description": "d", "input_schema": {"type": "object"}},
        {"name": "g", "description": "", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in request
    for choice, expected in [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ({"type": "function", "function": {"name": "g"}}, {"type": "tool", "name": "g"}),
    ]:
        body = {
            "messages": [{"role": "user", "content": "x"}],
            "tools": tools,
            "tool_choice": choice,
        }
        assert chat(body)["tool_choice"] == expected
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "tools": tools,
        "parallel_tool_calls": False,
    }
    assert chat(body)["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_tool_calls_and_results_and_turn_merging() -> None:
    request = chat(
        {
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "w", "arguments": '{"c": "Oslo"}'},
                        },
                        {
                            "id": "t2",
                            "type": "function",
                            "function": {"name": "w", "arguments": '{"c": "Bergen"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "t1", "content": "3C"},
                {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "5C"}]},
                {"role": "user", "content": "thanks"},
            ]
        }
    )
    assert request["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "t1", "name": "w", "input": {"c": "Oslo"}},
                {"type": "tool_use", "id": "t2", "name": "w", "input": {"c": "Bergen"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "3C"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "5C"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]


def test_images_become_image_blocks() -> None:
    request = chat(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                        {"type": "image_url", "image_url": {"url": "https://example.test/a.jpg"}},
                    ],
                }
            ]
        }
    )
    blocks = request["messages"][0]["content"]
    assert blocks[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
    }
    assert blocks[2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.test/a.jpg"},
    }


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": "x"}], "n": 2},
        {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
        {"messages": [{"role": "function", "content": "x"}]},
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{oops"}}],
                }
            ]
        },
    ],
)
def test_untranslatable_requests_are_400(body: dict[str, Any]) -> None:
    with pytest.raises(errors.GatewayError) as raised:
        chat(body)
    assert raised.value.status == 400


def test_completion_prompt_becomes_one_user_turn() -> None:
    call = base.Call(
        "completion", {"model": "x", "prompt": ["once upon"], "max_tokens": 5}, "claude-up"
    )
    request = anthropic_wire.to_messages_request(call, stream=True)
    assert request["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "once upon"}]}
    ]
    assert request["stream"] is True
    assert request["max_tokens"] == 5


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-up",
    "content": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"c": "Oslo"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7},
}


def test_message_to_chat_completion() -> None:
    completion = anthropic_wire.from_message(MESSAGE, "chat", created=123)
    choice = completion["choices"][0]
    assert completion["object"] == "chat.completion"
    assert completion["created"] == 123
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check."
    (call,) = choice["message"]["tool_calls"]
    assert call == {
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "w", "arguments": '{"c":"Oslo"}'},
    }
    assert completion["usage"] == {
        "prompt_tokens": 15,
        "completion_tokens": 7,
        "total_tokens": 22,
        "prompt_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons(stop_reason: str, finish: str) -> None:
    message = {**MESSAGE, "content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason}
    assert anthropic_wire.from_message(message, "chat", 0)["choices"][0]["finish_reason"] == finish
    text = anthropic_wire.from_message(message, "completion", 0)
    assert text["object"] == "text_completion"
    assert text["choices"][0]["finish_reason"] in ("stop", "length", "content_filter")


def stream_events(arguments: str) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "message": {
                    **MESSAGE,
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 9, "output_tokens": 1},
                }
            },
        ),
        ("ping", {}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ("content_block_stop", {"index": 0}),
        (
            "content_block_start",
            {
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_9", "name": "w", "input": {}},
            },
        ),
    ]
    for start in range(0, len(arguments), 4):
        delta = {"type": "input_json_delta", "partial_json": arguments[start : start + 4]}
        events.append(("content_block_delta", {"index": 1, "delta": delta}))
    events += [
        ("content_block_stop", {"index": 1}),
        ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 21}}),
        ("message_stop", {}),
    ]
    return [(name, {"type": name, **payload}) for name, payload in events]


def test_stream_translation_of_text_and_a_tool_call() -> None:
    arguments = json.dumps({"city": "Oslo", "days": [1, 2]})
    translator = anthropic_stream.StreamTranslator("chat", created=1)
    chunks = [
        chunk for name, data in stream_events(arguments) for chunk in translator.feed(name, data)
    ]
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"content": "Hi"}
    assert deltas[2] == {
        "tool_calls": [
            {
                "index": 0,
                "id": "toolu_9",
                "type": "function",
                "function": {"name": "w", "arguments": ""},
            }
        ]
    }
    fragments = [d["tool_calls"][0]["function"]["arguments"] for d in deltas[3:-1]]
    assert json.loads("".join(fragments)) == {"city": "Oslo", "days": [1, 2]}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert all(chunk["id"] == "chatcmpl-msg_1" for chunk in chunks)
    assert translator.done
    assert translator.usage == base.Usage(9, 21)
    assert translator.usage_chunk()["usage"] == {
        "prompt_tokens": 9,
        "completion_tokens": 21,
        "total_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def test_stream_translation_for_completions_drops_tool_calls() -> None:
    translator = anthropic_stream.StreamTranslator("completion", created=1)
    chunks = [c for name, data in stream_events('{"a": 1}') for c in translator.feed(name, data)]
    assert all(chunk["object"] == "text_completion" for chunk in chunks)
    assert "".join(chunk["choices"][0]["text"] for chunk in chunks) == "Hi"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_error_event_fails_the_stream() -> None:
    translator = anthropic_stream.StreamTranslator("chat", created=1)
    with pytest.raises(base.UpstreamError) as raised:
        translator.feed(
            "error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
        )
    assert raised.value.retryable
    with pytest.raises(base.UpstreamError) as limited:
        translator.feed("error", {"type": "error", "error": {"type": "rate_limit_error"}})
    assert limited.value.kind is base.FailureKind.RATE_LIMITED
