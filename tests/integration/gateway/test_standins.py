"""The stand-in upstreams speak the real wire formats: the official SDKs, pointed straight at
them, parse every answer (whole and streamed) into their typed objects."""

from __future__ import annotations

import anthropic
import openai

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
