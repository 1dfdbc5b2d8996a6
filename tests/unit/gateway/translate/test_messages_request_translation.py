"""Anthropic Messages requests become Chat Completions requests for OpenAI-compatible
upstreams; every malformed field, and a missing max_tokens, is an error that names its path."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_gateway.translate import checks, messages_request
from unit.gateway.translate import oracles

TOOL = {"name": "get_weather", "description": "The weather.", "input_schema": {"type": "object"}}
ASKED = {
    "role": "assistant",
    "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
    ],
}


def after_a_call(*blocks: dict[str, Any]) -> dict[str, Any]:
    """Messages whose last user turn answers ASKED's call with `blocks`."""
    return {
        "messages": [
            {"role": "user", "content": "Hi"},
            ASKED,
            {"role": "user", "content": list(blocks)},
        ]
    }


def chat(**body: Any) -> dict[str, Any]:
    return messages_request.to_chat_request({"model": "client-model", "max_tokens": 100, **body})


def refused(body: dict[str, Any]) -> checks.TranslationError:
    with pytest.raises(checks.TranslationError) as caught:
        messages_request.to_chat_request({"model": "client-model", "max_tokens": 100, **body})
    return caught.value


def test_a_plain_request() -> None:
    assert chat(system="Be brief.", messages=[{"role": "user", "content": "Hi"}]) == {
        "model": "client-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "max_completion_tokens": 100,
    }


def test_a_system_prompt_in_text_blocks() -> None:
    system = [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Use metric units."},
    ]
    request = chat(system=system, messages=[{"role": "user", "content": "Hi"}])
    assert request["messages"][0] == {"role": "system", "content": "Be brief.\n\nUse metric units."}


def test_user_blocks_text_and_images() -> None:
    content = [
        {"type": "text", "text": "What are these?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
    ]
    assert chat(messages=[{"role": "user", "content": content}])["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What are these?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
            ],
        }
    ]


def test_one_text_block_is_sent_as_a_string() -> None:
    content = [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]
    assert chat(messages=[{"role": "user", "content": content}])["messages"] == [
        {"role": "user", "content": "Hi"}
    ]


def test_a_tool_round_trip() -> None:
    request = chat(
        messages=[
            {"role": "user", "content": "Weather in Oslo and Rome?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Two calls.", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    },
                    {
                        "type": "tool_use",
                        "id": "toolu_2",
                        "name": "get_weather",
                        "input": {"city": "Rome"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4 °C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "text", "text": "Timeout"}],
                        "is_error": True,
                    },
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
        tools=[TOOL],
    )
    assert request["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                oracles.tool_call("toolu_1", "get_weather", '{"city":"Oslo"}'),
                oracles.tool_call("toolu_2", "get_weather", '{"city":"Rome"}'),
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "4 °C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: Timeout"},
        {"role": "user", "content": "And tomorrow?"},
    ]
    assert request["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object"},
                "description": "The weather.",
            },
        }
    ]


def test_a_turn_of_tool_results_only_and_results_without_content() -> None:
    request = chat(**after_a_call({"type": "tool_result", "tool_use_id": "toolu_1"}), tools=[TOOL])
    assert request["messages"][-1] == {"role": "tool", "tool_call_id": "toolu_1", "content": ""}


def test_a_system_turn_stays_in_place() -> None:
    request = chat(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "system", "content": "Now in French."},
        ]
    )
    assert request["messages"][1] == {"role": "system", "content": "Now in French."}


def test_an_assistant_turn_of_thinking_only_keeps_its_place() -> None:
    thinking = {"type": "thinking", "thinking": "Hmm.", "signature": "sig"}
    request = chat(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [thinking]},
            {"role": "user", "content": "Well?"},
        ]
    )
    assert request["messages"][1] == {"role": "assistant", "content": ""}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choices(choice: dict[str, Any], expected: object) -> None:
    request = chat(messages=[{"role": "user", "content": "Hi"}], tools=[TOOL], tool_choice=choice)
    assert request["tool_choice"] == expected
    assert "parallel_tool_calls" not in request


def test_parallel_tool_use_disabled() -> None:
    choice = {"type": "auto", "disable_parallel_tool_use": True}
    request = chat(messages=[{"role": "user", "content": "Hi"}], tools=[TOOL], tool_choice=choice)
    assert request["parallel_tool_calls"] is False


def test_without_tools_no_tool_choice_is_sent() -> None:
    request = chat(messages=[{"role": "user", "content": "Hi"}], tool_choice={"type": "none"})
    assert "tool_choice" not in request
    assert "tools" not in request


def test_the_other_settings() -> None:
    request = chat(
        messages=[{"role": "user", "content": "Hi"}],
        stop_sequences=["END", "\n\nHuman:"],
        temperature=0.3,
        top_p=0.8,
        top_k=40,
        metadata={"user_id": "u-1"},
        thinking={"type": "enabled", "budget_tokens": 1024},
        stream=True,
    )
    assert request == {
        "model": "client-model",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 100,
        "stop": ["END", "\n\nHuman:"],
        "temperature": 0.3,
        "top_p": 0.8,
        "user": "u-1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_a_server_that_knows_only_max_tokens_gets_max_tokens() -> None:
    body = {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "Hi"}]}
    assert messages_request.to_chat_request(body, max_tokens_field="max_tokens")["max_tokens"] == 9


def test_structured_output() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "additionalProperties": False,
    }
    request = chat(
        messages=[{"role": "user", "content": "Hi"}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    assert request["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


def test_a_request_without_max_tokens_names_it() -> None:
    with pytest.raises(checks.TranslationError) as caught:
        messages_request.to_chat_request(
            {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}
        )
    assert caught.value.param == "max_tokens"
    assert "required" in caught.value.message


def test_count_tokens_requests_need_no_max_tokens_but_are_checked() -> None:
    messages_request.check_count_request(
        {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}
    )
    with pytest.raises(checks.TranslationError) as caught:
        messages_request.check_count_request(
            {"model": "m", "messages": [{"role": "user", "content": 5}]}
        )
    assert caught.value.param == "messages[0].content"


# --- malformed requests


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"model": ""}, "model"),
        ({"messages": "Hi"}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": ["Hi"]}, "messages[0]"),
        ({"messages": [{"role": "human", "content": "Hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": []}]}, "messages[0].content"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
            "messages[0].content[0].text",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages[0].content[0].text",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "messages[0].content[0].type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image"}]}]},
            "messages[0].content[0].source",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                    }
                ]
            },
            "messages[0].content[0].source.type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "base64", "data": "AA=="}}
                        ],
                    }
                ]
            },
            "messages[0].content[0].source.media_type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "url"}}]}
                ]
            },
            "messages[0].content[0].source.url",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}
                        ],
                    }
                ]
            },
            "messages[0].content[0].tool_use_id",
        ),
        (
            after_a_call({"type": "tool_result", "tool_use_id": "toolu_1", "is_error": "yes"}),
            "messages[2].content[0].is_error",
        ),
        (
            after_a_call(
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "image", "source": {}}],
                }
            ),
            "messages[2].content[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}],
                    },
                ]
            },
            "messages[1].content[0].input",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "name": "f", "input": {}}],
                    },
                ]
            },
            "messages[1].content[0].id",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": [{"type": "server_tool_use", "id": "s"}]},
                ]
            },
            "messages[1].content[0].type",
        ),
        (
            {"messages": [{"role": "assistant", "content": ""}, {"role": "user", "content": "Hi"}]},
            "messages[0].content",
        ),
        ({"system": [{"type": "image", "source": {}}]}, "system[0].type"),
        ({"system": 5}, "system"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools[0].type"),
        ({"tools": [{"name": "f"}]}, "tools[0].input_schema"),
        ({"tools": [{"input_schema": {}}]}, "tools[0].name"),
        ({"tools": [TOOL], "tool_choice": {"type": "tool", "name": "other"}}, "tool_choice.name"),
        ({"tools": [TOOL], "tool_choice": {"type": "required"}}, "tool_choice.type"),
        ({"tools": [TOOL], "tool_choice": "auto"}, "tool_choice"),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
        (
            {"tools": [TOOL], "tool_choice": {"type": "auto", "disable_parallel_tool_use": 1}},
            "tool_choice.disable_parallel_tool_use",
        ),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"stop_sequences": ["END", 5]}, "stop_sequences[1]"),
        ({"temperature": "warm"}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"metadata": {"user_id": 5}}, "metadata.user_id"),
        ({"stream": "yes"}, "stream"),
        ({"thinking": "on"}, "thinking"),
        ({"output_config": {"format": {"type": "regex"}}}, "output_config.format.type"),
    ],
)
def test_malformed_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    error = refused({"messages": [{"role": "user", "content": "Hi"}], **body})
    assert error.param == param
    assert error.message


# --- content as it is


def test_an_empty_last_assistant_message_is_dropped() -> None:
    request = chat(
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}]
    )
    assert request["messages"] == [{"role": "user", "content": "Hi"}]


def test_a_last_assistant_message_is_kept_as_the_last_turn() -> None:
    request = chat(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "The answer is"},
        ]
    )
    assert request["messages"][-1] == {"role": "assistant", "content": "The answer is"}


@pytest.mark.parametrize("text", ["   ", "\n\t", "Grüße, 世界 👋🏽", "line\u2028break"])
def test_text_goes_through_exactly(text: str) -> None:
    assert chat(messages=[{"role": "user", "content": text}])["messages"] == [
        {"role": "user", "content": text}
    ]
    block = [{"role": "user", "content": [{"type": "text", "text": text}]}]
    assert chat(messages=block)["messages"] == [{"role": "user", "content": text}]
