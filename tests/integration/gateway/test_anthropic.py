"""OpenAI chat <-> Anthropic Messages through the gateway: tool calls (streamed and whole),
tool results, stop reasons, usage, and the upstream's own errors."""

from __future__ import annotations

import json
from collections.abc import Callable

import openai
import pytest

from fixtures.upstreams import gateway_process, running
from fixtures.upstreams.gateway_process import model, pool, provider

WEATHER_ARGUMENTS = {
    "city": "Trondheim",
    "unit": "celsius",
    "days": [1, 2, 3],
    "note": 'a "quoted" ünïcode',
}
TOOLS: list[openai.types.chat.ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "user", "content": "Weather in Trondheim?"}
]

Starter = Callable[..., gateway_process.GatewayProcess]


@pytest.fixture
def gateway(
    anthropic_upstream: running.Upstream, start_gateway: Starter
) -> gateway_process.GatewayProcess:
    models = [model("claude-test", "claude-upstream", ["chat", "completion"])]
    return start_gateway(
        {"providerPools": [pool("p", [provider("claude", anthropic_upstream, models=models)])]}
    )


def test_streamed_tool_call_arrives_as_tool_call_deltas(
    gateway: gateway_process.GatewayProcess, anthropic_upstream: running.Upstream
) -> None:
    anthropic_upstream.behaviour.tool_call = ("get_weather", WEATHER_ARGUMENTS)
    chunks = list(
        gateway.client().chat.completions.create(
            model="claude-test", messages=ASK, tools=TOOLS, stream=True
        )
    )
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    first, *rest = calls
    assert first.index == 0
    assert first.id == "toolu_standin"
    assert first.type == "function"
    assert first.function is not None
    assert first.function.name == "get_weather"
    fragments = [
        call.function.arguments for call in rest if call.function and call.function.arguments
    ]
    assert len(fragments) > 1, "the arguments arrive in several deltas, as Anthropic streamed them"
    assert all(call.index == 0 for call in rest)
    assert json.loads("".join(fragments)) == WEATHER_ARGUMENTS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    upstream_request = anthropic_upstream.record.posts()[0].body
    assert upstream_request["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert upstream_request["stream"] is True


async def test_tool_call_whole_answer_async(
    gateway: gateway_process.GatewayProcess, anthropic_upstream: running.Upstream
) -> None:
    anthropic_upstream.behaviour.tool_call = ("get_weather", WEATHER_ARGUMENTS)
    async with gateway.async_client() as client:
        answer = await client.chat.completions.create(
            model="claude-test", messages=ASK, tools=TOOLS, tool_choice="required"
        )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == WEATHER_ARGUMENTS
    assert anthropic_upstream.record.posts()[0].body["tool_choice"] == {"type": "any"}


def test_tool_results_become_tool_result_blocks(
    gateway: gateway_process.GatewayProcess, anthropic_upstream: running.Upstream
) -> None:
    conversation: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "system", "content": "Use tools."},
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Trondheim"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "4 degrees, rain"},
    ]
    answer = gateway.client().chat.completions.create(
        model="claude-test", messages=conversation, tools=TOOLS
    )
    assert answer.choices[0].message.content == anthropic_upstream.behaviour.text
    sent = anthropic_upstream.record.posts()[0].body
    assert sent["system"] == "Use tools."
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Trondheim?"}]},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Trondheim"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4 degrees, rain"}
            ],
        },
    ]


def test_stop_reason_and_usage_are_translated(
    gateway: gateway_process.GatewayProcess, anthropic_upstream: running.Upstream
) -> None:
    anthropic_upstream.behaviour.stop_reason = "max_tokens"
    anthropic_upstream.behaviour.text = "cut short here"
    client = gateway.client()
    whole = client.chat.completions.create(model="claude-test", messages=ASK, max_tokens=3)
    assert whole.choices[0].finish_reason == "length"
    assert whole.usage is not None
    assert (whole.usage.prompt_tokens, whole.usage.completion_tokens) == (13, 3)
    assert anthropic_upstream.record.posts()[0].body["max_tokens"] == 3
    chunks = list(
        client.chat.completions.create(
            model="claude-test",
            messages=ASK,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["length"]
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (13, 3)


def test_upstream_refusal_reaches_the_client_with_its_status(
    gateway: gateway_process.GatewayProcess, anthropic_upstream: running.Upstream
) -> None:
    anthropic_upstream.behaviour.status = 400
    with pytest.raises(openai.BadRequestError) as raised:
        gateway.client().chat.completions.create(model="claude-test", messages=ASK)
    assert raised.value.status_code == 400
    body = raised.value.body
    assert isinstance(body, dict)
    assert body["message"] == "stand-in answers 400"
    assert body["type"] == "invalid_request_error"
    assert len(anthropic_upstream.record.posts()) == 1, "a refused request is not retried"
