"""Responses requests become Chat Completions requests; every malformed field is an error that
names its path."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_gateway.translate import checks, file_search, responses_request, responses_tools
from unit.gateway.translate import oracles


def chat(**body: Any) -> dict[str, Any]:
    return responses_request.to_chat_request({"model": "client-model", **body})


def refused(body: dict[str, Any], **keywords: Any) -> checks.TranslationError:
    with pytest.raises(checks.TranslationError) as caught:
        responses_request.to_chat_request({"model": "client-model", **body}, **keywords)
    return caught.value


FUNCTION = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


def test_a_string_input_is_one_user_message_after_the_instructions() -> None:
    assert chat(input="Hi", instructions="Be brief.") == {
        "model": "client-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
    }


def test_messages_of_every_role_and_their_parts() -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    request = chat(
        input=[
            {"role": "developer", "content": "Use metric units."},
            {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "S"}]},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": image, "detail": "low"},
                    {
                        "type": "input_image",
                        "image_url": "https://example.com/a.jpg",
                        "detail": "original",
                    },
                    {
                        "type": "input_file",
                        "file_data": "data:application/pdf;base64,JVBE",
                        "filename": "a.pdf",
                    },
                ],
            },
            {"role": "assistant", "content": "A picture."},
        ]
    )
    assert request["messages"] == [
        {"role": "system", "content": "Use metric units."},
        {"role": "system", "content": "S"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": image, "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
                },
            ],
        },
        {"role": "assistant", "content": "A picture."},
    ]


def test_several_text_parts_stay_parts() -> None:
    parts = [{"type": "input_text", "text": "one"}, {"type": "input_text", "text": "two"}]
    assert chat(input=[{"role": "user", "content": parts}])["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        }
    ]


def test_earlier_output_items_are_assistant_turns() -> None:
    output_message = {
        "id": "msg_1",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [
            {"type": "output_text", "text": "I can't", "annotations": []},
            {"type": "refusal", "refusal": "No."},
        ],
    }
    request = chat(input=[{"role": "user", "content": "Do it"}, output_message])
    assert request["messages"][1] == {"role": "assistant", "content": "I can't", "refusal": "No."}


def test_a_function_call_round_trip() -> None:
    request = chat(
        input=[
            {"role": "user", "content": "Weather in Oslo and Rome?"},
            {"role": "assistant", "content": "Checking."},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Oslo"}',
            },
            {
                "type": "function_call",
                "id": "fc_2",
                "call_id": "call_2",
                "name": "get_weather",
                "arguments": '{"city":"Rome"}',
                "status": "completed",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "4 °C"},
            {
                "type": "function_call_output",
                "call_id": "call_2",
                "output": [
                    {"type": "input_text", "text": "19 "},
                    {"type": "input_text", "text": "°C"},
                ],
            },
        ],
        tools=[FUNCTION],
    )
    assert request["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                oracles.tool_call("call_1", "get_weather", '{"city":"Oslo"}'),
                oracles.tool_call("call_2", "get_weather", '{"city":"Rome"}'),
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "4 °C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "19 °C"},
    ]


def test_a_function_call_without_text_is_an_assistant_message_of_its_own() -> None:
    request = chat(
        input=[
            {"role": "user", "content": "Weather?"},
            {"type": "function_call", "call_id": "c", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": ""},
        ]
    )
    assert request["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        ],
    }
    assert request["messages"][2] == {"role": "tool", "tool_call_id": "c", "content": ""}


def test_reasoning_items_are_dropped() -> None:
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"}
    assert chat(input=[{"role": "user", "content": "Hi"}, reasoning])["messages"] == [
        {"role": "user", "content": "Hi"}
    ]


def test_earlier_conversation_comes_between_instructions_and_input() -> None:
    history = [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Weather?"}],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": "{}",
            "status": "completed",
        },
    ]
    request = responses_request.to_chat_request(
        {
            "model": "m",
            "instructions": "New instructions.",
            "input": [{"type": "function_call_output", "call_id": "call_1", "output": "Sunny"}],
            "previous_response_id": "resp_1",
        },
        history=history,
    )
    assert [message["role"] for message in request["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
    ]
    assert request["messages"][0]["content"] == "New instructions."


def test_earlier_conversation_alone_can_be_continued_without_new_input() -> None:
    request = responses_request.to_chat_request(
        {"model": "m"}, history=[{"role": "user", "content": "Hi"}]
    )
    assert request["messages"] == [{"role": "user", "content": "Hi"}]


def test_a_stored_item_that_cannot_be_translated_names_previous_response_id() -> None:
    error = refused({"input": "Hi"}, history=[{"type": "computer_call", "id": "x"}])
    assert error.param == "previous_response_id"
    assert "computer_call" in error.message


# --- tools


def test_function_tools_take_chat_shape() -> None:
    request = chat(
        input="Hi",
        tools=[
            {**FUNCTION, "description": "The weather.", "strict": True},
            {"type": "function", "name": "now", "parameters": None, "strict": None},
        ],
        parallel_tool_calls=False,
    )
    assert request["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather.",
                "parameters": {"type": "object"},
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "now"}},
    ]
    assert request["parallel_tool_calls"] is False
    assert "tool_choice" not in request


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        (
            {"type": "function", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choices(choice: object, expected: object) -> None:
    assert chat(input="Hi", tools=[FUNCTION], tool_choice=choice)["tool_choice"] == expected


def test_allowed_tools_narrow_the_tools_offered() -> None:
    other = {**FUNCTION, "name": "get_time"}
    request = chat(
        input="Hi",
        tools=[FUNCTION, other],
        tool_choice={
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "get_time"}],
        },
    )
    assert [tool["function"]["name"] for tool in request["tools"]] == ["get_time"]
    assert request["tool_choice"] == "required"


def test_without_tools_no_tool_settings_are_sent() -> None:
    request = chat(input="Hi", tool_choice="auto", parallel_tool_calls=True)
    assert "tool_choice" not in request
    assert "parallel_tool_calls" not in request
    assert "tools" not in request


@pytest.mark.parametrize(
    ("tool", "kind"),
    [
        ({"type": "web_search_preview"}, "web_search_preview"),
        ({"type": "custom", "name": "grammar"}, "custom"),
        ({"type": "mcp", "server_label": "x"}, "mcp"),
        ({"name": "untyped"}, "None"),
    ],
)
def test_other_tool_types_are_refused_by_name(tool: dict[str, Any], kind: str) -> None:
    error = refused({"input": "Hi", "tools": [FUNCTION, tool]})
    assert error.param == "tools[1].type"
    assert kind in error.message


def test_file_search_is_offered_as_the_function_the_gateway_answers() -> None:
    search = {"type": "file_search", "vector_store_ids": ["vs_1"]}
    request = chat(input="Hi", tools=[FUNCTION, search], tool_choice={"type": "file_search"})
    assert request["tools"][1] == file_search.function_tool()
    assert request["tool_choice"] == {"type": "function", "function": {"name": "file_search"}}
    assert set(responses_tools.TOOLS) == {"function", "file_search"}


def test_an_earlier_file_search_call_is_the_functions_call_and_output() -> None:
    result = {"file_id": "file-1", "filename": "a.md", "score": 0.5, "text": "Alpha."}
    item = {"id": "fs_1", "type": "file_search_call", "status": "completed",
            "queries": ["alpha"], "results": [result]}  # fmt: skip
    request = chat(input=[{"role": "user", "content": "Hi"}, item])
    assert request["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "fs_1",
                    "type": "function",
                    "function": {"name": "file_search", "arguments": '{"queries": ["alpha"]}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "fs_1", "content": file_search.results_text([result], 1)},
    ]
    unkept = chat(input=[{"role": "user", "content": "Hi"}, {**item, "results": None}])
    assert unkept["messages"][2]["content"] == "The results of this search were not kept."


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            {"tools": [FUNCTION], "tool_choice": {"type": "function", "name": "other"}},
            "tool_choice.name",
        ),
        ({"tools": [FUNCTION], "tool_choice": {"type": "function"}}, "tool_choice.name"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": [FUNCTION], "tool_choice": {"type": "file_search"}}, "tool_choice.type"),
        ({"tools": [FUNCTION], "tool_choice": {"type": "web_search"}}, "tool_choice.type"),
        (
            {
                "tools": [FUNCTION],
                "tool_choice": {"type": "allowed_tools", "mode": "x", "tools": []},
            },
            "tool_choice.mode",
        ),
        ({"tools": [FUNCTION], "tool_choice": 3}, "tool_choice"),
        ({"tools": [{"type": "function"}]}, "tools[0].name"),
        ({"tools": [{**FUNCTION, "parameters": "{}"}]}, "tools[0].parameters"),
        ({"tools": [{**FUNCTION, "strict": "yes"}]}, "tools[0].strict"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"tools": ["get_weather"]}, "tools[0]"),
        ({"tools": [FUNCTION], "parallel_tool_calls": "no"}, "parallel_tool_calls"),
    ],
)
def test_malformed_tool_settings_name_the_field(body: dict[str, Any], param: str) -> None:
    assert refused({"input": "Hi", **body}).param == param


# --- the other settings


def test_structured_output_formats() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    form = {
        "type": "json_schema",
        "name": "answer",
        "schema": schema,
        "strict": True,
        "description": "d",
    }
    assert chat(input="Hi", text={"format": form})["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True, "description": "d"},
    }
    assert chat(input="Hi", text={"format": {"type": "json_object"}})["response_format"] == {
        "type": "json_object"
    }
    assert "response_format" not in chat(
        input="Hi", text={"format": {"type": "text"}, "verbosity": "low"}
    )


@pytest.mark.parametrize(
    ("text", "param"),
    [
        ({"format": {"type": "json_schema", "schema": {}}}, "text.format.name"),
        ({"format": {"type": "json_schema", "name": "a"}}, "text.format.schema"),
        (
            {"format": {"type": "json_schema", "name": "a", "schema": {}, "strict": 1}},
            "text.format.strict",
        ),
        ({"format": {"type": "yaml"}}, "text.format.type"),
        ({"format": "json"}, "text.format"),
        ("json", "text"),
    ],
)
def test_malformed_formats_name_the_field(text: object, param: str) -> None:
    assert refused({"input": "Hi", "text": text}).param == param


def test_sampling_settings_reasoning_and_user() -> None:
    request = chat(
        input="Hi",
        max_output_tokens=300,
        temperature=0.2,
        top_p=1,
        user="u-1",
        reasoning={"effort": "low", "summary": "auto"},
        metadata={"team": "a"},
        store=True,
        truncation="auto",
        include=["message.output_text.logprobs"],
    )
    assert request == {
        "model": "client-model",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 300,
        "temperature": 0.2,
        "top_p": 1,
        "user": "u-1",
        "reasoning_effort": "low",
    }


def test_a_server_that_knows_only_max_tokens_gets_max_tokens() -> None:
    request = responses_request.to_chat_request(
        {"model": "m", "input": "Hi", "max_output_tokens": 64}, max_tokens_field="max_tokens"
    )
    assert request["max_tokens"] == 64
    assert "max_completion_tokens" not in request


def test_a_stream_asks_for_the_usage_chunk() -> None:
    request = chat(input="Hi", stream=True)
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert "stream" not in chat(input="Hi", stream=False)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": "100"}, "max_output_tokens"),
        ({"max_output_tokens": True}, "max_output_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": False}, "top_p"),
        ({"user": 7}, "user"),
        ({"reasoning": "high"}, "reasoning"),
        ({"reasoning": {"effort": 2}}, "reasoning.effort"),
        ({"metadata": ["a"]}, "metadata"),
        ({"metadata": {"a": 1}}, "metadata.a"),
        ({"metadata": {f"k{n}": "v" for n in range(17)}}, "metadata"),
        ({"stream": "yes"}, "stream"),
        ({"store": "yes"}, "store"),
        ({"previous_response_id": ""}, "previous_response_id"),
        ({"instructions": ["x"]}, "instructions"),
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
    ],
)
def test_malformed_settings_name_the_field(body: dict[str, Any], param: str) -> None:
    assert refused({"input": "Hi", **body}).param == param


# --- malformed input


@pytest.mark.parametrize(
    ("input", "param"),
    [
        (5, "input"),
        (None, "input"),
        ([], "input"),
        (["Hi"], "input[0]"),
        ([{"content": "x"}], "input[0].type"),
        ([{"type": 5}], "input[0].type"),
        ([{"type": "item_reference", "id": "msg_1"}], "input[0].type"),
        ([{"type": "computer_call_output", "call_id": "c"}], "input[0].type"),
        ([{"role": "robot", "content": "x"}], "input[0].role"),
        ([{"role": "user"}], "input[0].content"),
        ([{"role": "user", "content": []}], "input[0].content"),
        ([{"role": "user", "content": {"type": "input_text"}}], "input[0].content"),
        ([{"role": "user", "content": ["Hi"]}], "input[0].content[0]"),
        ([{"role": "user", "content": [{"type": "input_text"}]}], "input[0].content[0].text"),
        ([{"role": "user", "content": [{"type": "input_audio"}]}], "input[0].content[0].type"),
        ([{"role": "user", "content": [{"type": "input_image"}]}], "input[0].content[0].image_url"),
        (
            [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}],
            "input[0].content[0].file_id",
        ),
        (
            [{"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x/a.png"}]}],
            "input[0].content[0].image_url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": "data:text/plain;base64,AA=="}
                    ],
                }
            ],
            "input[0].content[0].image_url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "input_image", "image_url": "data:image/png,AA=="}],
                }
            ],
            "input[0].content[0].image_url",
        ),
        (
            [{"role": "user", "content": [{"type": "input_file", "file_id": "file_1"}]}],
            "input[0].content[0].file_data",
        ),
        (
            [
                {
                    "role": "system",
                    "content": [{"type": "input_image", "image_url": "https://x/a.png"}],
                }
            ],
            "input[0].content[0].type",
        ),
        (
            [
                {
                    "role": "assistant",
                    "content": [{"type": "input_image", "image_url": "https://x/a.png"}],
                }
            ],
            "input[0].content[0].type",
        ),
        ([{"role": "assistant", "content": [{"type": "output_text"}]}], "input[0].content[0].text"),
        ([{"type": "function_call", "name": "f", "arguments": "{}"}], "input[0].call_id"),
        ([{"type": "function_call", "call_id": "c", "arguments": "{}"}], "input[0].name"),
        (
            [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}],
            "input[0].arguments",
        ),
        (
            [{"type": "function_call_output", "call_id": "nobody", "output": "x"}],
            "input[0].call_id",
        ),
        ([{"type": "function_call_output", "output": "x"}], "input[0].call_id"),
    ],
)
def test_malformed_input_names_the_field(input: object, param: str) -> None:
    error = refused({"input": input})
    assert error.param == param
    assert error.message


def test_the_path_names_the_item_and_the_part() -> None:
    items = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "video"}]},
    ]
    assert refused({"input": items}).param == "input[2].content[1].type"


def test_an_output_with_an_image_names_the_part() -> None:
    items = [
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "c",
            "output": [{"type": "input_image", "image_url": "https://x/a.png"}],
        },
    ]
    assert refused({"input": items}).param == "input[1].output[0].type"


def test_a_request_without_a_model_names_model() -> None:
    with pytest.raises(checks.TranslationError) as caught:
        responses_request.to_chat_request({"input": "Hi"})
    assert caught.value.param == "model"


def test_instructions_alone_are_not_an_input() -> None:
    assert refused({"instructions": "Be brief.", "input": []}).param == "input"


# --- text as it is


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "Grüße, 世界 👋🏽", "a\u0000b"])
def test_text_goes_through_exactly(text: str) -> None:
    assert chat(input=text)["messages"] == [{"role": "user", "content": text}]
    parts = [{"role": "user", "content": [{"type": "input_text", "text": text}]}]
    assert chat(input=parts)["messages"] == [{"role": "user", "content": text}]


def test_input_items_for_storage() -> None:
    assert responses_request.input_items({"input": "Hi"}) == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    ]
    items = [{"role": "user", "content": "Hi"}]
    assert responses_request.input_items({"input": items}) == items
