"""Prompt-token estimates for Responses and Messages requests follow the gateway's rule for
chat (four characters a token, three tokens of framing a message) and count what chat's estimate
leaves out: tools, tool calls and their results, images."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from runestone_gateway.api import tokens as chat_tokens
from runestone_gateway.api import validate
from runestone_gateway.translate import messages_request, responses_request, tokens


def chat_estimate(chat: dict[str, Any]) -> int:
    return chat_tokens.estimate(validate.Request("chat", chat, chat["model"], False, False))


def test_text_only_requests_estimate_as_their_chat_translation_does() -> None:
    responses = {
        "model": "m",
        "instructions": "Be brief and precise.",
        "input": [
            {"role": "user", "content": "What is the weather like in Oslo in December?"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "Cold and dark."}]},
            {"role": "user", "content": [{"type": "input_text", "text": "And in Rome?"}]},
        ],
    }
    chat = responses_request.to_chat_request(responses)
    assert tokens.responses_input(responses) == chat_estimate(chat)
    messages = {
        "model": "m",
        "max_tokens": 10,
        "system": "Be brief and precise.",
        "messages": [
            {"role": "user", "content": "What is the weather like in Oslo in December?"},
            {"role": "assistant", "content": [{"type": "text", "text": "Cold and dark."}]},
        ],
    }
    assert tokens.messages_request(messages) == chat_estimate(
        messages_request.to_chat_request(messages)
    )


def test_a_string_input() -> None:
    assert tokens.responses_input({"input": "x" * 40}) == 10 + tokens.TOKENS_PER_MESSAGE
    assert tokens.responses_input({"input": "x" * 41}) == 11 + tokens.TOKENS_PER_MESSAGE


def test_tools_calls_results_and_images_count() -> None:
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    with_tool = tokens.responses_input({"input": "Hi", "tools": [tool]})
    assert with_tool == -(-(len(orjson.dumps([tool])) + len("Hi")) // 4) + 3
    call = {
        "type": "function_call",
        "call_id": "c",
        "name": "get_weather",
        "arguments": '{"city":"Oslo"}',
    }
    output = {"type": "function_call_output", "call_id": "c", "output": "4 degrees"}
    with_calls = tokens.responses_input(
        {"input": [{"role": "user", "content": "Hi"}, call, output]}
    )
    assert (
        with_calls == -(-len("Hi" + "get_weather" + '{"city":"Oslo"}' + "4 degrees") // 4) + 3 * 3
    )
    image = {"role": "user", "content": [{"type": "input_image", "image_url": "https://x/a.png"}]}
    assert tokens.responses_input({"input": [image]}) == tokens.TOKENS_PER_IMAGE + 3


def test_earlier_conversation_counts() -> None:
    history = [{"role": "user", "content": "x" * 400}]
    assert (
        tokens.responses_input({"input": "Hi"}, history)
        == tokens.responses_input({"input": "Hi"}) + 103
    )


def test_messages_with_tool_use_results_images_and_tools() -> None:
    tool = {"name": "get_weather", "input_schema": {"type": "object"}}
    body = {
        "system": [{"type": "text", "text": "Be brief."}],
        "tools": [tool],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hi"},
                    {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "t",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [{"type": "text", "text": "4 degrees"}],
                    }
                ],
            },
        ],
    }
    chars = (
        len("Be brief.")
        + len("Hi")
        + len("get_weather")
        + len(b'{"city":"Oslo"}')
        + len("4 degrees")
    )
    chars += len(orjson.dumps([tool]))
    assert tokens.messages_request(body) == -(-chars // 4) + 4 * 3 + tokens.TOKENS_PER_IMAGE


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"input": 5},
        {"input": [None, 3, {"type": "x"}]},
        {"messages": "x"},
        {"messages": [None, {"content": [3, {"type": "image"}]}]},
        {"tools": "x"},
    ],
)
def test_estimates_never_raise(body: dict[str, Any]) -> None:
    assert tokens.responses_input(body) >= 1
    assert tokens.messages_request(body) >= 1


def test_chat_requests_count_tools_tool_calls_and_images_by_the_same_counter() -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    call = {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    chat = {
        "model": "m",
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            {"role": "assistant", "content": None, "tool_calls": [call]},
        ],
        "tools": [tool],
    }
    chars = len(orjson.dumps([tool])) + len("get_weather") + len("{}")
    expected = -(-chars // 4) + 2 * tokens.TOKENS_PER_MESSAGE + tokens.TOKENS_PER_IMAGE
    assert chat_estimate(chat) == tokens.chat_request(chat) == expected
