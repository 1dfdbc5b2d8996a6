"""The stand-in upstreams speak the real wire formats: the official SDKs, pointed straight at
them, parse every answer (whole and streamed) into their typed objects."""

from __future__ import annotations

import anthropic
import openai
import pytest

from fixtures.upstreams import running


def test_openai_sdk_accepts_the_openai_stand_in(openai_upstream: running.Upstream) -> None:
    openai_upstream.behaviour.text = "one two three"
    client = openai.OpenAI(base_url=openai_upstream.base_url, api_key="upstream-key", max_retries=0)
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "hi"}
    ]

    whole = client.chat.completions.create(model="m", messages=messages)
    assert whole.choices[0].message.content == "one two three"

    chunks = list(
        client.chat.completions.create(
            model="m", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3

    completion = client.completions.create(model="m", prompt="p")
    assert completion.choices[0].text == "one two three"
    embedding = client.embeddings.create(model="m", input=["a", "b"])
    assert [len(item.embedding) for item in embedding.data] == [8, 8]
    assert [model.id for model in client.models.list()] == ["upstream-model"]
    assert openai_upstream.record.posts()[0].headers["authorization"] == "Bearer upstream-key"


def test_anthropic_sdk_accepts_the_anthropic_stand_in(anthropic_upstream: running.Upstream) -> None:
    anthropic_upstream.behaviour.text = "alpha beta"
    anthropic_upstream.behaviour.tool_call = ("lookup", {"query": "runestone", "limit": 3})
    client = anthropic.Anthropic(
        base_url=anthropic_upstream.base_url, api_key="upstream-key", max_retries=0
    )
    tools: list[anthropic.types.ToolParam] = [
        {"name": "lookup", "input_schema": {"type": "object", "properties": {}}}
    ]
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]

    whole = client.messages.create(model="c", max_tokens=50, messages=messages, tools=tools)
    assert whole.stop_reason == "tool_use"
    assert [block.type for block in whole.content] == ["text", "tool_use"]

    with client.messages.stream(model="c", max_tokens=50, messages=messages, tools=tools) as stream:
        final = stream.get_final_message()
    text_block, tool_block = final.content
    assert text_block.type == "text"
    assert text_block.text == "alpha beta"
    assert tool_block.type == "tool_use"
    assert tool_block.input == {"query": "runestone", "limit": 3}
    assert final.usage.output_tokens == 2
    received = anthropic_upstream.record.posts()[0]
    # This SDK sends its key as a bearer token; the gateway uses the older x-api-key header.
    assert received.headers["authorization"] == "Bearer upstream-key"
    assert "anthropic-version" in received.headers


def test_openai_sdk_accepts_the_responses_api_of_the_openai_stand_in(
    openai_upstream: running.Upstream,
) -> None:
    openai_upstream.behaviour.text = "one two three"
    openai_upstream.behaviour.cached_tokens = 4
    client = openai.OpenAI(base_url=openai_upstream.base_url, api_key="upstream-key", max_retries=0)

    whole = client.responses.create(model="m", input="hi", instructions="Be brief.")
    assert whole.output_text == "one two three"
    assert whole.instructions == "Be brief."
    assert whole.usage is not None
    assert whole.usage.input_tokens_details.cached_tokens == 4

    with client.responses.stream(model="m", input="hi") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == ["one", " two", " three"]
    assert final.output_text == "one two three"

    openai_upstream.behaviour.tool_call = ("lookup", {"query": "runestone", "limit": 3})
    tools: list[openai.types.responses.ToolParam] = [
        {"type": "function", "name": "lookup", "parameters": {"type": "object"}, "strict": False}
    ]
    with client.responses.stream(model="m", input="hi", tools=tools) as stream:
        called = stream.get_final_response()
    (call,) = called.output
    assert call.type == "function_call"
    assert (call.name, call.arguments) == ("lookup", '{"query": "runestone", "limit": 3}')

    # Without a store of its own it refuses to continue a response, as OpenAI does for one it
    # did not store; the gateway sends earlier items instead.
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="m", input="more", previous_response_id=whole.id)
    assert refused.value.code == "previous_response_not_found"


def test_anthropic_sdk_counts_tokens_at_the_anthropic_stand_in(
    anthropic_upstream: running.Upstream,
) -> None:
    client = anthropic.Anthropic(
        base_url=anthropic_upstream.base_url, api_key="upstream-key", max_retries=0
    )
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]
    counted = client.messages.count_tokens(model="c", messages=messages)
    assert counted.input_tokens > 1000
    anthropic_upstream.behaviour.cached_tokens = 30
    whole = client.messages.create(model="c", max_tokens=5, messages=messages)
    assert whole.usage.cache_read_input_tokens == 30


def test_the_openai_stand_in_answers_a_request_for_json_in_a_schema_with_its_json_text(
    openai_upstream: running.Upstream,
) -> None:
    openai_upstream.behaviour.text = "plain words"
    openai_upstream.behaviour.json_text = '{"city": "Oslo"}'
    client = openai.OpenAI(base_url=openai_upstream.base_url, api_key="upstream-key", max_retries=0)
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "hi"}
    ]
    structured = client.chat.completions.create(
        model="m",
        messages=messages,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "place", "schema": {"type": "object"}},
        },
    )
    assert structured.choices[0].message.content == '{"city": "Oslo"}'
    plain = client.chat.completions.create(model="m", messages=messages)
    assert plain.choices[0].message.content == "plain words"
    response = client.responses.create(
        model="m",
        input="hi",
        text={"format": {"type": "json_schema", "name": "place", "schema": {"type": "object"}}},
    )
    assert response.output_text == '{"city": "Oslo"}'
    assert client.responses.create(model="m", input="hi").output_text == "plain words"
