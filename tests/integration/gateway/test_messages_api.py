"""Anthropic's Messages API through the gateway, with the official `anthropic` SDK as the client:
passed through unchanged to Anthropic (prompt caching marks and beta headers included),
translated to Chat Completions for OpenAI-compatible upstreams and the mock; whole and streamed
with tool use, `count_tokens`, and every error as the SDK's typed exception in Anthropic's
envelope, upstream failures before and after the first streamed byte included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import anthropic
import httpx
import pytest

from fixtures.upstreams import gateway_process, keys, routes
from fixtures.upstreams.anthropic_server import count_of
from fixtures.upstreams.routes import STAND_INS, VIA_ANTHROPIC, VIA_CHAT, VIA_MOCK
from runestone_gateway.translate import tokens

MAIN = keys.key("main")
NARROW = keys.key("narrow", models=[VIA_CHAT])
TOOLS: list[anthropic.types.ToolParam] = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
ARGUMENTS = {"city": "Trondheim", "days": [1, 2, 3], "note": 'a "quoted" ünïcode'}
ASK: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Weather in Trondheim?"}]


@pytest.fixture(scope="module")
def four(
    module_gateways: gateway_process.GatewayStarter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[routes.Routes]:
    table: Path = tmp_path_factory.mktemp("keys") / "keys.yaml"
    yield from routes.start(module_gateways, {"auth": keys.write_table(table, MAIN, NARROW)})


@pytest.fixture
def served(four: routes.Routes) -> Iterator[routes.Routes]:
    four.reset()
    yield four
    four.reset()


def client(served: routes.Routes, key: keys.Key = MAIN) -> anthropic.Anthropic:
    return served.gateway.anthropic_client(api_key=key.plaintext)


def expected_text(served: routes.Routes, model_name: str, prompt: str) -> str:
    if model_name == VIA_MOCK:
        return f"Mock answer: {prompt}"
    return served.upstream(model_name).behaviour.text


@pytest.mark.parametrize("model_name", routes.MODELS)
def test_a_whole_message(served: routes.Routes, model_name: str) -> None:
    message = client(served).messages.create(
        model=model_name,
        max_tokens=100,
        system="Be brief.",
        messages=ASK,
        stop_sequences=["###"],
        metadata={"user_id": "u-1"},
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.stop_reason == "end_turn"
    (block,) = message.content
    assert block.type == "text"
    assert block.text == expected_text(served, model_name, "Weather in Trondheim?")
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    if model_name == VIA_MOCK:
        return
    (received,) = served.upstream(model_name).record.posts()
    if model_name == VIA_ANTHROPIC:
        assert received.path == "/v1/messages"
        assert received.body == {
            "model": "claude-upstream",
            "max_tokens": 100,
            "system": "Be brief.",
            "messages": ASK,
            "stop_sequences": ["###"],
            "metadata": {"user_id": "u-1"},
        }
    else:
        assert received.path == "/v1/chat/completions"
        assert received.body["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Trondheim?"},
        ]
        assert received.body["max_completion_tokens"] == 100
        assert received.body["stop"] == ["###"]
        assert received.body["user"] == "u-1"


def test_anthropic_gets_the_request_unchanged_with_its_cache_marks_and_beta_headers(
    served: routes.Routes,
) -> None:
    served.upstream(VIA_ANTHROPIC).behaviour.cached_tokens = 2048
    served.upstream(VIA_ANTHROPIC).behaviour.cache_write_tokens = 100
    system: list[anthropic.types.TextBlockParam] = [
        {"type": "text", "text": "A long, cached preamble.", "cache_control": {"type": "ephemeral"}}
    ]
    message = client(served).messages.create(
        model=VIA_ANTHROPIC,
        max_tokens=50,
        system=system,
        messages=ASK,
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31,extended-cache-ttl-2025-04-11"},
    )
    assert message.usage.cache_read_input_tokens == 2048
    assert message.usage.cache_creation_input_tokens == 100
    (received,) = served.upstream(VIA_ANTHROPIC).record.posts()
    assert received.body["system"] == system
    assert received.headers["anthropic-beta"] == (
        "prompt-caching-2024-07-31,extended-cache-ttl-2025-04-11"
    )
    sent_version = client(served).default_headers["anthropic-version"]
    assert received.headers["anthropic-version"] == sent_version  # the SDK's own
    # The client's key never goes upstream: it is the gateway's, not Anthropic's.
    assert MAIN.plaintext not in json.dumps(received.headers)
    assert "x-api-key" not in received.headers


@pytest.mark.parametrize("model_name", routes.MODELS)
def test_a_streamed_tool_call(served: routes.Routes, model_name: str) -> None:
    if model_name in STAND_INS:
        served.upstream(model_name).behaviour.tool_call = ("get_weather", ARGUMENTS)
    with client(served).messages.stream(
        model=model_name,
        max_tokens=200,
        messages=ASK,
        tools=TOOLS,
        tool_choice={"type": "any"},
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert final.stop_reason == "tool_use"
    uses = [block for block in final.content if block.type == "tool_use"]
    assert len(uses) == 1
    assert uses[0].name == "get_weather"
    assert uses[0].input == ({} if model_name == VIA_MOCK else ARGUMENTS)
    if model_name != VIA_MOCK:
        fragments = [
            event.delta.partial_json
            for event in events
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta"
        ]
        assert len(fragments) > 1, "the arguments arrive in pieces, as the upstream sent them"
        assert json.loads("".join(fragments)) == ARGUMENTS
    assert final.usage.output_tokens > 0

    # The tool's result goes back; the answer is text again.
    if model_name in STAND_INS:
        served.upstream(model_name).behaviour.tool_call = None
    follow_up: list[Any] = [
        *ASK,
        {"role": "assistant", "content": [block.model_dump() for block in final.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": uses[0].id, "content": "4 degrees, rain"}
            ],
        },
    ]
    answer = client(served).messages.create(
        model=model_name, max_tokens=100, messages=follow_up, tools=TOOLS
    )
    assert answer.stop_reason == "end_turn"
    if model_name == VIA_CHAT:
        sent = served.upstream(model_name).record.posts()[-1].body
        assert sent["messages"][-1] == {
            "role": "tool",
            "tool_call_id": uses[0].id,
            "content": "4 degrees, rain",
        }


@pytest.mark.parametrize("model_name", routes.MODELS)
def test_count_tokens(served: routes.Routes, model_name: str) -> None:
    counted = client(served).messages.count_tokens(
        model=model_name, system="Be brief.", messages=ASK, tools=TOOLS
    )
    body = {"model": model_name, "system": "Be brief.", "messages": ASK, "tools": TOOLS}
    if model_name == VIA_ANTHROPIC:
        (received,) = served.upstream(VIA_ANTHROPIC).record.posts()
        assert received.path == "/v1/messages/count_tokens"
        assert counted.input_tokens == count_of(received.body)  # Anthropic's own count
        assert received.body["model"] == "claude-upstream"
    else:
        assert counted.input_tokens == tokens.messages_request(body)  # the gateway's estimate
        if model_name in STAND_INS:
            assert served.upstream(model_name).record.posts() == []


def test_errors_are_the_sdks_typed_exceptions_in_anthropics_envelope(
    served: routes.Routes,
) -> None:
    with pytest.raises(anthropic.AuthenticationError) as no_key:
        served.gateway.anthropic_client(api_key="rsk_wrong").messages.create(
            model=VIA_CHAT, max_tokens=5, messages=ASK
        )
    assert no_key.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "Invalid API key."},
    }
    with pytest.raises(anthropic.PermissionDeniedError) as not_allowed:
        client(served, NARROW).messages.create(model=VIA_ANTHROPIC, max_tokens=5, messages=ASK)
    assert "not allowed to use the model" in not_allowed.value.message
    with pytest.raises(anthropic.NotFoundError) as unknown:
        client(served).messages.create(model="no-such-model", max_tokens=5, messages=ASK)
    assert isinstance(unknown.value.body, dict)
    assert unknown.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as bad:
        client(served).messages.create(
            model=VIA_CHAT,
            max_tokens=5,
            messages=cast(Any, [{"role": "user", "content": [{"type": "document_ref"}]}]),
        )
    assert isinstance(bad.value.body, dict)
    assert bad.value.body["error"]["type"] == "invalid_request_error"
    assert bad.value.body["error"]["message"].startswith("messages[0].content[0].type:")
    assert served.upstream(VIA_CHAT).record.posts() == []


@pytest.mark.parametrize("model_name", routes.MODELS)
def test_a_request_without_max_tokens_is_a_400_naming_it(
    served: routes.Routes, model_name: str
) -> None:
    answer = httpx.post(
        f"http://127.0.0.1:{served.gateway.port}/v1/messages",
        headers={"x-api-key": MAIN.plaintext, "anthropic-version": "2023-06-01"},
        json={"model": model_name, "messages": ASK},
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "'max_tokens' is required."},
    }


@pytest.mark.parametrize("model_name", STAND_INS)
@pytest.mark.parametrize("stream", [False, True])
def test_an_upstream_error_before_the_first_byte_is_an_http_error(
    served: routes.Routes, model_name: str, stream: bool
) -> None:
    served.upstream(model_name).behaviour.status = 500

    def ask() -> None:
        if stream:
            with client(served).messages.stream(
                model=model_name, max_tokens=5, messages=ASK
            ) as events:
                list(events)
        else:
            client(served).messages.create(model=model_name, max_tokens=5, messages=ASK)

    with pytest.raises(anthropic.InternalServerError) as failed:
        ask()
    assert failed.value.status_code == 502
    assert isinstance(failed.value.body, dict)
    assert failed.value.body["error"]["type"] == "api_error"


def test_an_anthropic_stream_that_fails_at_once_is_an_http_error(served: routes.Routes) -> None:
    """Anthropic accepts the stream, then sends only an `error` event: nothing has reached the
    client, so it fails (over) as a failure before the first byte."""
    served.upstream(VIA_ANTHROPIC).behaviour.stream_error = "overloaded_error"
    with (
        pytest.raises(anthropic.InternalServerError),
        client(served).messages.stream(model=VIA_ANTHROPIC, max_tokens=5, messages=ASK) as events,
    ):
        list(events)


@pytest.mark.parametrize("model_name", STAND_INS)
def test_an_upstream_error_after_the_first_byte_ends_the_stream_with_an_error_event(
    served: routes.Routes, model_name: str
) -> None:
    served.upstream(model_name).behaviour.break_after_first = True
    seen: list[Any] = []
    with (
        pytest.raises(anthropic.APIStatusError) as broken,
        client(served).messages.stream(model=model_name, max_tokens=50, messages=ASK) as events,
    ):
        seen.extend(events)
    assert seen[0].type == "message_start"
    assert isinstance(broken.value.body, dict)
    assert broken.value.body["error"]["type"] == "api_error"
