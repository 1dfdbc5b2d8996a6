"""Failover across priority tiers: when the tier-0 provider answers 500 or 429, outlasts its
timeout, or refuses connections, the answer comes from tier 1. One attempt per tier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from fixtures.upstreams import gateway_process, running
from fixtures.upstreams.gateway_process import model, pool, provider

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def two_tiers(tier0: dict[str, Any], tier1: running.Upstream) -> dict[str, Any]:
    backup = provider(
        "backup", tier1, priority=1, models=[model("m", kinds=["chat", "completion"])]
    )
    return {"providerPools": [pool("p", [tier0, backup])]}


def primary(upstream: running.Upstream, **extra: Any) -> dict[str, Any]:
    return provider("primary", upstream, models=[model("m", kinds=["chat", "completion"])], **extra)


def answered_by_backup(gateway: gateway_process.GatewayProcess, backup: running.Upstream) -> None:
    backup.behaviour.text = "from the backup"
    client = gateway.client()
    whole = client.chat.completions.create(model="m", messages=ASK)
    assert whole.choices[0].message.content == "from the backup"
    streamed = client.chat.completions.create(model="m", messages=ASK, stream=True)
    assert (
        "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
        == "from the backup"
    )
    assert client.completions.create(model="m", prompt="p").choices[0].text == "from the backup"
    assert len(backup.record.posts()) == 3


@pytest.mark.parametrize("status", [500, 503, 429])
def test_tier_0_answering_an_error_status(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter, status: int
) -> None:
    tier0, tier1 = start_upstream("openai"), start_upstream("openai")
    tier0.behaviour.status = status
    gateway = start_gateway(two_tiers(primary(tier0), tier1))
    answered_by_backup(gateway, tier1)
    assert len(tier0.record.posts()) == 3, "one attempt at tier 0 per request, no retry within it"
    assert gateway.metric("runestone_upstream_attempts_total", runestone_provider="primary") == 3


def test_tier_0_timing_out(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    tier0, tier1 = start_upstream("openai"), start_upstream("openai")
    tier0.behaviour.delay_seconds = 120
    gateway = start_gateway(two_tiers(primary(tier0, timeoutSeconds=1), tier1))
    answered_by_backup(gateway, tier1)
    assert (
        gateway.metric(
            "runestone_upstream_attempts_total", runestone_provider="primary", outcome="timeout"
        )
        == 3
    )


def test_tier_0_refusing_connections(
    openai_upstream: running.Upstream, refused_port: int, start_gateway: Starter
) -> None:
    dead = provider(
        "primary",
        base_url=f"http://127.0.0.1:{refused_port}/v1",
        models=[model("m", kinds=["chat", "completion"])],
    )
    gateway = start_gateway(two_tiers(dead, openai_upstream))
    answered_by_backup(gateway, openai_upstream)
    assert (
        gateway.metric(
            "runestone_upstream_attempts_total", runestone_provider="primary", outcome="connect"
        )
        == 3
    )


def test_anthropic_tier_0_overloaded_fails_over_to_openai(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    tier0, tier1 = start_upstream("anthropic"), start_upstream("openai")
    tier0.behaviour.status = 529
    gateway = start_gateway(two_tiers(primary(tier0), tier1))
    answered_by_backup(gateway, tier1)
    assert len(tier0.record.posts()) == 3


def test_an_anthropic_stream_failing_before_its_first_event_fails_over(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    """Anthropic can accept a streamed request (200) and then send only an `error` event; no
    byte has reached the client yet, so the next tier answers."""
    tier0, tier1 = start_upstream("anthropic"), start_upstream("openai")
    tier0.behaviour.stream_error = "overloaded_error"
    tier1.behaviour.text = "from the backup"
    gateway = start_gateway(two_tiers(primary(tier0), tier1))
    streamed = gateway.client().chat.completions.create(model="m", messages=ASK, stream=True)
    assert (
        "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
        == "from the backup"
    )
    assert (len(tier0.record.posts()), len(tier1.record.posts())) == (1, 1)
    failed = gateway.metric(
        "runestone_upstream_attempts_total", runestone_provider="primary", outcome="status"
    )
    assert failed == 1


async def test_failover_with_the_async_client(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    tier0, tier1 = start_upstream("openai"), start_upstream("anthropic")
    tier0.behaviour.status = 502
    tier1.behaviour.text = "anthropic backup"
    gateway = start_gateway(two_tiers(primary(tier0), tier1))
    async with gateway.async_client() as client:
        stream = await client.chat.completions.create(model="m", messages=ASK, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "anthropic backup"


def test_within_a_tier_one_attempt_then_the_next_tier(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    first, second, backup = (start_upstream("openai") for _ in range(3))
    first.behaviour.status = second.behaviour.status = 500
    models = [model("m", kinds=["chat", "completion"])]
    document = {
        "providerPools": [
            pool(
                "p",
                [
                    provider("a", first, models=models),
                    provider("b", second, models=models),
                    provider("backup", backup, priority=1, models=models),
                ],
            )
        ]
    }
    gateway = start_gateway(document)
    answer = gateway.client().chat.completions.create(model="m", messages=ASK)
    assert answer.choices[0].message.content == backup.behaviour.text
    assert len(first.record.posts()) + len(second.record.posts()) == 1
