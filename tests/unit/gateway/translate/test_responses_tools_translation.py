"""Responses tools become Chat Completions tools: function tools and tool choices, allowed tools,
file_search offered as the function the gateway answers and an earlier search replayed as its
call and output; other tool types and malformed tool settings are errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_gateway.translate import file_search, responses_tools
from unit.gateway.translate.responses_requests import FUNCTION, chat, refused


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
