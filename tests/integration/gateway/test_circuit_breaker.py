"""The circuit breaker per provider and model: it opens after N failures, stops calling that
provider (counted at the upstream), half-opens after the cool-down and closes on success; while
every provider of a model is open, /readyz says not ready and requests get 503."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from fixtures.upstreams import gateway_process, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
THRESHOLD = 3
# Long enough that the few requests made while open all fit inside it on a busy machine.
BREAKER = {"failureThreshold": THRESHOLD, "openSeconds": 6, "halfOpenRequests": 1}
STATE = "runestone_circuit_state"


def test_breaker_opens_stops_calling_and_half_opens(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    flaky, backup = start_upstream("openai"), start_upstream("openai")
    flaky.behaviour.status = 500
    gateway = start_gateway(gateway_process.flaky_and_backup(flaky, backup, BREAKER))
    client = gateway.client()
    for _ in range(THRESHOLD):
        client.chat.completions.create(model="m", messages=ASK)
    assert len(flaky.record.posts()) == THRESHOLD
    assert gateway.metric(STATE, runestone_provider="flaky") == 2  # open

    # Open: requests go straight to the backup; the flaky upstream sees none of them.
    for _ in range(5):
        client.chat.completions.create(model="m", messages=ASK)
    assert len(flaky.record.posts()) == THRESHOLD
    assert len(backup.record.posts()) == THRESHOLD + 5
    assert gateway.health("/readyz").status_code == 200, "the model still has a closed provider"

    # After the cool-down one probe goes through; the upstream has recovered, so it closes.
    flaky.behaviour.status = 200
    flaky.behaviour.text = "recovered"

    def answered_by_flaky() -> bool:
        answer = client.chat.completions.create(model="m", messages=ASK)
        return answer.choices[0].message.content == "recovered"

    eventually(answered_by_flaky, what="a half-open probe to reach the recovered upstream")
    assert len(flaky.record.posts()) == THRESHOLD + 1
    assert gateway.metric(STATE, runestone_provider="flaky") == 0  # closed again


def test_failed_probe_reopens(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    flaky, backup = start_upstream("openai"), start_upstream("openai")
    flaky.behaviour.status = 503
    gateway = start_gateway(gateway_process.flaky_and_backup(flaky, backup, BREAKER))
    client = gateway.client()
    for _ in range(THRESHOLD):
        client.chat.completions.create(model="m", messages=ASK)

    def probed() -> bool:
        client.chat.completions.create(model="m", messages=ASK)
        return len(flaky.record.posts()) > THRESHOLD

    eventually(probed, what="the half-open probe")
    # The probe failed: open again, so the next requests do not reach the flaky upstream.
    assert gateway.metric(STATE, runestone_provider="flaky") == 2
    for _ in range(3):
        client.chat.completions.create(model="m", messages=ASK)
    assert len(flaky.record.posts()) == THRESHOLD + 1


def lone_provider(
    upstream: running.Upstream, start_gateway: Starter, **breaker: float
) -> gateway_process.GatewayProcess:
    """A gateway whose model "m" has one provider, with these circuit-breaker settings."""
    only = provider("only", upstream, models=[model("m")])
    return start_gateway({"providerPools": [pool("p", [only], circuitBreaker=breaker)]})


def test_all_providers_open_means_not_ready_and_503(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    openai_upstream.behaviour.status = 500
    gateway = lone_provider(openai_upstream, start_gateway, failureThreshold=2, openSeconds=3600)
    client = gateway.client()
    for _ in range(2):
        with pytest.raises(openai.APIStatusError) as raised:
            client.chat.completions.create(model="m", messages=ASK)
        assert raised.value.status_code == 502
    readyz = gateway.health("/readyz")
    assert readyz.status_code == 503
    assert "m" in readyz.text
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model="m", messages=ASK)
    assert raised.value.status_code == 503
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["code"] == "no_available_provider"
    assert len(openai_upstream.record.posts()) == 2


def test_readiness_returns_after_the_cool_down_without_moving_the_breaker(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    """An unready pod gets no traffic, so readiness must not wait for a request to probe the
    upstream; but reading readiness leaves the breaker as it is (the gauge still says open)
    until a request seeks a permit."""
    openai_upstream.behaviour.status = 500
    gateway = lone_provider(openai_upstream, start_gateway, failureThreshold=1, openSeconds=5)
    client = gateway.client()
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="m", messages=ASK)
    assert gateway.health("/readyz").status_code == 503
    eventually(
        lambda: gateway.health("/readyz").status_code == 200, what="readiness after the cool-down"
    )
    assert gateway.health("/readyz").status_code == 200
    assert gateway.metric(STATE, runestone_provider="only") == 2, "readiness moved the breaker"
    openai_upstream.behaviour.status = 200
    client.chat.completions.create(model="m", messages=ASK)  # the half-open probe
    assert gateway.metric(STATE, runestone_provider="only") == 0
