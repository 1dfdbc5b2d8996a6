"""Keys, limits, budgets, metrics and the access log apply to `/v1/responses` and `/v1/messages`
as to chat completions: a key over budget is refused on both (each in its own envelope), token
limits count what the upstream really used, cached prompt tokens are charged at the pool's
cache prices and counted as their own token types, and a bad request is charged nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import anthropic
import openai
import pytest

from fixtures.upstreams import gateway_process, keys, routes
from fixtures.upstreams.gateway_process import eventually
from fixtures.upstreams.routes import VIA_ANTHROPIC, VIA_CHAT, VIA_RESPONSES

# Per million tokens: input $1, output $2, cache reads $0.25, cache writes $4.
PRICE = {
    "inputPerMillionTokens": "1",
    "outputPerMillionTokens": "2",
    "cacheReadInputPerMillionTokens": "0.25",
    "cacheWriteInputPerMillionTokens": "4",
}
CACHED = keys.key("cached")
# One chat answer of the OpenAI stand-in (11 in, 5 out) costs $0.000021: a second is refused.
BUDGETED = keys.key("budgeted", budget={"usd": "0.00002", "period": "daily"})
UNTOUCHED = keys.key("untouched", budget={"usd": "1", "period": "daily"})
TPM = 600  # refills 10 tokens a second
TOKENS = keys.key("tokens", limits={"tokensPerMinute": TPM})
ASK: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def four(
    module_gateways: gateway_process.GatewayStarter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[routes.Routes]:
    table: Path = tmp_path_factory.mktemp("keys") / "keys.yaml"
    auth = keys.write_table(table, CACHED, BUDGETED, UNTOUCHED, TOKENS)
    yield from routes.start(module_gateways, {"auth": auth}, price=PRICE)


@pytest.fixture
def served(four: routes.Routes) -> Iterator[routes.Routes]:
    four.reset()
    yield four
    four.reset()


def usd(millionths: float) -> Any:
    return pytest.approx(millionths / 1_000_000)


def access_lines(gateway: gateway_process.GatewayProcess, path: str) -> list[dict[str, Any]]:
    return [
        line
        for line in (json.loads(text) for text in gateway.stdout_lines if text.startswith("{"))
        if line["path"] == path
    ]


def test_cached_tokens_are_charged_at_the_cache_prices_and_counted_apart(
    served: routes.Routes,
) -> None:
    gateway = served.gateway
    claude = served.upstream(VIA_ANTHROPIC).behaviour
    claude.cached_tokens, claude.cache_write_tokens = 600, 100
    message = gateway.anthropic_client(api_key=CACHED.plaintext).messages.create(
        model=VIA_ANTHROPIC, max_tokens=50, messages=ASK
    )
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (13, 600)
    assert message.usage.cache_creation_input_tokens == 100
    # 13 plain input, 600 cache reads, 100 cache writes, 5 output.
    anthropic_cost = 13 * 1 + 600 * 0.25 + 100 * 4 + 5 * 2

    served.upstream(VIA_CHAT).behaviour.cached_tokens = 8
    response = gateway.client(api_key=CACHED.plaintext).responses.create(model=VIA_CHAT, input="hi")
    assert response.usage is not None
    assert response.usage.input_tokens == 11
    assert response.usage.input_tokens_details.cached_tokens == 8
    chat_cost = 3 * 1 + 8 * 0.25 + 5 * 2

    served.upstream(VIA_RESPONSES).behaviour.cached_tokens = 4
    with gateway.client(api_key=CACHED.plaintext).responses.stream(
        model=VIA_RESPONSES, input="hi"
    ) as stream:
        streamed = stream.get_final_response()
    assert streamed.usage is not None
    assert streamed.usage.input_tokens_details.cached_tokens == 4
    native_cost = 7 * 1 + 4 * 0.25 + 5 * 2

    eventually(
        lambda: (
            gateway.metric("runestone_cost_usd_total", runestone_key_id="cached")
            == usd(anthropic_cost + chat_cost + native_cost)
        ),
        what="the three answers' cost",
    )
    usage = "gen_ai_client_token_usage_sum"
    on_claude = {"gen_ai_request_model": VIA_ANTHROPIC, "gen_ai_operation_name": "chat"}
    assert gateway.metric(usage, gen_ai_token_type="input", **on_claude) == 713
    assert gateway.metric(usage, gen_ai_token_type="cache_read", **on_claude) == 600
    assert gateway.metric(usage, gen_ai_token_type="cache_creation", **on_claude) == 100
    assert gateway.metric(usage, gen_ai_token_type="output", **on_claude) == 5
    assert gateway.metric(usage, gen_ai_token_type="cache_read", gen_ai_request_model=VIA_CHAT) == 8

    (line,) = access_lines(gateway, "/v1/messages")
    assert (line["operation"], line["model"], line["provider"], line["status"]) == (
        "chat",
        VIA_ANTHROPIC,
        "claude",
        200,
    )
    assert (line["input_tokens"], line["cache_read_tokens"], line["cache_write_tokens"]) == (
        713,
        600,
        100,
    )
    streamed_line = access_lines(gateway, "/v1/responses")[-1]
    assert streamed_line["stream"] is True
    assert streamed_line["cache_read_tokens"] == 4


def test_a_key_over_budget_is_refused_on_both_endpoints(served: routes.Routes) -> None:
    gateway = served.gateway
    openai_client = openai.OpenAI(
        base_url=gateway.base_url, api_key=BUDGETED.plaintext, max_retries=2
    )
    openai_client.responses.create(model=VIA_CHAT, input="hi")  # $0.000021 of $0.00002
    with pytest.raises(openai.RateLimitError) as refused:
        openai_client.responses.create(model=VIA_CHAT, input="hi")
    assert refused.value.code == "insufficient_quota"
    assert refused.value.response.headers["x-should-retry"] == "false"

    # The Anthropic SDK honours x-should-retry too: one refusal, in Anthropic's envelope.
    anthropic_client = anthropic.Anthropic(
        base_url=f"http://127.0.0.1:{gateway.port}", api_key=BUDGETED.plaintext, max_retries=2
    )

    def ask(stream: bool) -> None:
        if stream:
            with anthropic_client.messages.stream(
                model=VIA_ANTHROPIC, max_tokens=5, messages=ASK
            ) as events:
                list(events)
        else:
            anthropic_client.messages.create(model=VIA_ANTHROPIC, max_tokens=5, messages=ASK)

    for stream in (False, True):
        with pytest.raises(anthropic.RateLimitError) as over:
            ask(stream)
        assert isinstance(over.value.body, dict)
        assert over.value.body["type"] == "error"
        assert over.value.body["error"]["type"] == "rate_limit_error"
        assert "daily budget of $0.00002" in over.value.body["error"]["message"]
        assert over.value.response.headers["x-should-retry"] == "false"
    assert (
        gateway.metric(
            "runestone_gateway_limit_rejections_total", runestone_key_id="budgeted", limit="budget"
        )
        == 3
    )
    assert served.upstream(VIA_ANTHROPIC).record.posts() == []


def test_token_limits_count_what_was_really_used(served: routes.Routes) -> None:
    gateway = served.gateway
    started = time.monotonic()
    remaining: list[int] = []
    for _ in range(2):
        raw = gateway.client(api_key=TOKENS.plaintext).responses.with_raw_response.create(
            model=VIA_CHAT, input="hi"
        )
        remaining.append(int(raw.headers["x-ratelimit-remaining-tokens"]))
    for _ in range(2):
        answer = gateway.anthropic_client(api_key=TOKENS.plaintext).messages.with_raw_response
        raw_message = answer.create(model=VIA_ANTHROPIC, max_tokens=5, messages=ASK)
        remaining.append(int(raw_message.headers["x-ratelimit-remaining-tokens"]))
    refilled = int((time.monotonic() - started) * TPM / 60) + 1
    # Each admission takes the estimate; the next sees the real count (11 + 5 for the chat
    # stand-in, 13 + 5 for Anthropic) in place of it.
    assert 0 < TPM - remaining[0] < 16  # "hi" is estimated at a few tokens
    assert 16 - refilled <= remaining[0] - remaining[1] <= 16
    assert 18 - refilled <= remaining[2] - remaining[3] <= 18


def test_a_bad_request_is_charged_nothing(served: routes.Routes) -> None:
    gateway = served.gateway
    with pytest.raises(openai.BadRequestError):
        gateway.client(api_key=UNTOUCHED.plaintext).responses.create(
            model=VIA_CHAT, input=cast(Any, [{"type": "message", "role": "robot", "content": "x"}])
        )
    with pytest.raises(anthropic.BadRequestError):
        gateway.anthropic_client(api_key=UNTOUCHED.plaintext).messages.create(
            model=VIA_CHAT,
            max_tokens=5,
            messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}],
        )
    assert served.upstream(VIA_CHAT).record.posts() == []
    assert gateway.metric("runestone_key_budget_spent_usd", runestone_key_id="untouched") == 0
    assert gateway.metric("runestone_cost_usd_total", runestone_key_id="untouched") == 0
    assert (
        gateway.metric(
            "runestone_gateway_requests_total", runestone_key_id="untouched", status_code="400"
        )
        == 2
    )
