"""Budgets and the metrics that report usage, scraped from /metrics of a gateway with two worker
processes (whose samples one scrape must sum): requests by key id, model, provider and status;
GenAI token usage and durations; cost; budget spent and refused; key expiry."""

from __future__ import annotations

import datetime

import httpx
import openai
import pytest

from devcluster.redis import RedisServer
from fixtures.upstreams import gateway_process, keys, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
EXPIRES = datetime.datetime(2031, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
COUNTED = keys.key("counted", expiresAt=EXPIRES.isoformat())
# $1 per million tokens in and out: each answer (11 + 5 tokens) costs $0.000016.
METERED = keys.key("metered", budget={"usd": "0.00004", "period": "daily"})
PER_ANSWER_USD = 16e-6


@pytest.fixture(scope="module")
def gateway(
    redis_server: RedisServer,
    module_upstream: running.Upstream,
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> gateway_process.GatewayProcess:
    table = tmp_path_factory.mktemp("keys") / "keys.yaml"
    priced = {
        **model("m", upstream_model="upstream-m"),
        "price": {"inputPerMillionTokens": "1", "outputPerMillionTokens": "1"},
    }
    return module_gateways(
        {
            "auth": keys.write_table(table, COUNTED, METERED),
            "limits": {"store": {"type": "redis", "url": redis_server.url}},
            "providerPools": [pool("p", [provider("up", module_upstream, models=[priced])])],
        },
        args=("--workers", "2"),
    )


@pytest.fixture(scope="module")
def traffic(gateway: gateway_process.GatewayProcess) -> None:
    """Requests spread over both workers (a new connection each), then the scrape."""
    for index in range(6):
        with gateway.client(api_key=COUNTED.plaintext) as client:
            if index < 4:
                client.chat.completions.create(model="m", messages=ASK)
            else:
                stream = client.chat.completions.create(
                    model="m",
                    messages=ASK,
                    stream=True,
                    stream_options={"include_usage": index == 4},
                )
                text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
                assert text
    with pytest.raises(openai.NotFoundError):
        gateway.client(api_key=COUNTED.plaintext).chat.completions.create(
            model="unknown", messages=ASK
        )
    with pytest.raises(openai.AuthenticationError):
        gateway.client(api_key=keys.key("nobody").plaintext).models.list()


def test_an_exhausted_budget_is_refused(gateway: gateway_process.GatewayProcess) -> None:
    # The SDK retries 429s by default; x-should-retry tells it a spent budget will not come back.
    client = openai.OpenAI(base_url=gateway.base_url, api_key=METERED.plaintext, max_retries=2)
    for _ in range(3):  # $0.000016 each: spent 0, 16 and 32 millionths are under the budget of 40
        client.chat.completions.create(model="m", messages=ASK)
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="m", messages=ASK)
    error = raised.value
    assert (error.code, error.type) == ("insufficient_quota", "insufficient_quota")
    assert error.response.headers["x-should-retry"] == "false"
    assert int(error.response.headers["retry-after"]) <= 86400
    assert "daily budget of $0.00004" in error.message
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=ASK, stream=True)
    assert (
        gateway.metric(
            "runestone_gateway_limit_rejections_total", runestone_key_id="metered", limit="budget"
        )
        == 2
    ), "refusals are not retried"
    assert gateway.metric("runestone_key_budget_spent_usd", runestone_key_id="metered") == (
        pytest.approx(3 * PER_ANSWER_USD)
    )
    assert gateway.metric("runestone_key_budget_usd", runestone_key_id="metered") == 0.00004
    eventually(
        lambda: (
            gateway.metric("runestone_cost_usd_total", runestone_key_id="metered")
            == pytest.approx(3 * PER_ANSWER_USD)
        ),
        what="the cost of the three answers counted",
    )


def test_metrics_match_the_traffic(gateway: gateway_process.GatewayProcess, traffic: None) -> None:
    eventually(
        lambda: gateway.metric("runestone_gateway_workers") == 2, what="both workers to report"
    )
    requests = "runestone_gateway_requests_total"
    served = {
        "runestone_key_id": "counted",
        "gen_ai_request_model": "m",
        "runestone_provider": "up",
    }
    # Each worker counts an answered request a moment after sending it (runestone_gateway.
    # accounting); a scrape settles only the worker that serves it.
    eventually(
        lambda: (
            (
                gateway.metric(requests, status_code="200", **served),
                gateway.metric(requests, runestone_key_id="counted", status_code="404"),
                gateway.metric(requests, runestone_key_id="", status_code="401"),
            )
            == (6, 1, 1)
        ),
        what="every request counted",
    )
    assert gateway.metric(requests, status_code="404", gen_ai_request_model="unknown") == 0

    genai = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "openai",
        "gen_ai_request_model": "m",
        "gen_ai_response_model": "upstream-m",
    }
    usage = "gen_ai_client_token_usage"
    # Other tests of this module add their own answers (metered key): count those too.
    answers = 6 + int(gateway.metric(requests, runestone_key_id="metered", status_code="200"))
    assert gateway.metric(f"{usage}_count", gen_ai_token_type="input", **genai) == answers
    assert gateway.metric(f"{usage}_sum", gen_ai_token_type="input", **genai) == 11 * answers
    assert gateway.metric(f"{usage}_sum", gen_ai_token_type="output", **genai) == 5 * answers
    assert gateway.metric("gen_ai_server_request_duration_count", **genai) == answers
    assert gateway.metric("gen_ai_server_time_to_first_token_count", **genai) == 2
    assert gateway.metric("runestone_gateway_overhead_seconds_count") == answers
    assert gateway.metric("runestone_cost_usd_total", runestone_key_id="counted") == (
        pytest.approx(6 * PER_ANSWER_USD)
    )
    assert (
        gateway.metric("runestone_key_expiry_timestamp_seconds", runestone_key_id="counted")
        == EXPIRES.timestamp()
    )
    assert gateway.metric("runestone_circuit_state", runestone_provider="up") == 0

    text = httpx.get(f"http://127.0.0.1:{gateway.health_port}/metrics", timeout=10).text
    for key in (COUNTED, METERED):
        assert key.plaintext not in text
        assert key.entry["sha256"] not in text
