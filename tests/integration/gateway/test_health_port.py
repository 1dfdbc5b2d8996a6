"""The health port: /livez, /readyz and /metrics, separate from the API port; and active health
checks that take an unhealthy provider out of routing until it recovers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai

from fixtures.upstreams import gateway_process, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def test_livez_readyz_metrics(openai_upstream: running.Upstream, start_gateway: Starter) -> None:
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])]}
    )
    assert gateway.health("/livez").status_code == 200
    assert gateway.health("/readyz").status_code == 200
    gateway.client().chat.completions.create(model="m", messages=ASK)
    metrics = gateway.health("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for name in (
        "gen_ai_server_request_duration_count",
        "gen_ai_client_token_usage_sum",
        "runestone_gateway_overhead_seconds_count",
        "runestone_circuit_state",
        "runestone_config_reloads_total",
    ):
        assert name in metrics.text
    assert gateway.metric("runestone_gateway_requests_total", status_code="200") == 1
    assert gateway.metric("runestone_config_generation") == 1
    assert gateway.api_key not in metrics.text
    # The API port does not serve health, and the health port does not serve the API.
    assert httpx.get(f"http://127.0.0.1:{gateway.port}/livez").status_code == 404
    assert gateway.health("/v1/models").status_code == 404


def test_active_health_checks_take_a_provider_out_and_back(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    sick, backup = start_upstream("openai"), start_upstream("anthropic")
    models = [model("m")]
    checks = {"intervalSeconds": 0.2, "timeoutSeconds": 5}
    gateway = start_gateway(
        {
            "providerPools": [
                pool(
                    "p",
                    [
                        provider("sick", sick, models=models),
                        provider("backup", backup, priority=1, models=models),
                    ],
                    healthCheck=checks,
                )
            ]
        }
    )
    sick.behaviour.models_status = 503
    eventually(
        lambda: (
            gateway.metric("runestone_provider_healthy", runestone_provider="sick") == 0
            and gateway.metric("runestone_provider_healthy", runestone_provider="backup") == 1
        ),
        what="the failing health check to mark the provider unhealthy",
    )
    for _ in range(3):
        gateway.client().chat.completions.create(model="m", messages=ASK)
    assert sick.record.posts() == [], "an unhealthy provider gets no traffic"
    assert len(backup.record.posts()) == 3

    sick.behaviour.models_status = 200
    eventually(
        lambda: gateway.metric("runestone_provider_healthy", runestone_provider="sick") == 1,
        what="the provider to be healthy again",
    )
    gateway.client().chat.completions.create(model="m", messages=ASK)
    assert len(sick.record.posts()) == 1
