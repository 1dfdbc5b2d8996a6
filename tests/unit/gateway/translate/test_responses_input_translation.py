"""Responses input becomes Chat Completions messages: a string or items of every role and part,
function calls and their outputs, earlier conversation before the new input, and text exactly as
it is; every malformed item or part, and a missing model, is an error that names its path."""

from __future__ import annotations

import pytest

from runestone_gateway.translate import checks, responses_request
from unit.gateway.translate import oracles
from unit.gateway.translate.responses_requests import FUNCTION, chat, refused


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
