"""The other settings of a Responses request become Chat Completions settings: structured output
formats, sampling, reasoning effort, user, the token limit's field and the stream's usage chunk;
every malformed setting is an error that names its field."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_gateway.translate import responses_request
from unit.gateway.translate.responses_requests import chat, refused


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
