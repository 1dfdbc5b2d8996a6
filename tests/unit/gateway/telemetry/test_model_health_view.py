"""The health port's model view built from routing state: one entry per model with its targets
in tier order, circuit and health-check state read without moving them, the window's counts and
percentiles, and nothing that could carry a secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from runestone_gateway import config
from runestone_gateway.failover import breaker, routing, window
from runestone_gateway.providers import base, registry
from runestone_gateway.telemetry import modelhealth

NOW = 5000.0  # a perf_counter reading
WALL = 1_800_000_000.0
SECRET = "sk-upstream-credential-0123456789"


def target(
    provider: base.Provider,
    model: config.Model,
    *,
    priority: int = 0,
    clock: Callable[[], float] = lambda: 0.0,
    health: routing.Health | None = None,
) -> routing.Target:
    settings = config.CircuitBreaker(failure_threshold=2, open_seconds=30)
    return routing.Target(
        pool="p",
        provider=provider,
        model=model,
        priority=priority,
        weight=provider.spec.weight,
        price=0.0,
        breaker=breaker.CircuitBreaker(settings, clock=clock),
        latency=routing.Ewma(),
        health=health or routing.Health(),
        window=window.Window(),
    )


def mock(name: str, *models: config.Model, priority: int = 0) -> base.Provider:
    spec = config.Provider(name=name, type="mock", priority=priority, models=list(models))
    return registry.create(spec, None)


def pools() -> list[config.ProviderPool]:
    spec = config.Provider(name="x", type="mock", models=[config.Model(name="m")])
    return [config.ProviderPool(name="p", providers=[spec], routing={"strategy": "cost"})]


def view(targets: list[routing.Target]) -> dict[str, Any]:
    return modelhealth.document(targets, pools(), generation=7, pid=42, now=NOW, wall=WALL)


def test_models_with_their_targets_in_tier_order() -> None:
    chat = config.Model(name="chat-model", upstream_model="big-model", kinds=["chat", "completion"])
    embed = config.Model(name="embedder", kinds=["embedding"])
    backup, primary = mock("backup", chat, priority=1), mock("primary", chat, embed)
    document = view(
        [target(backup, chat, priority=1), target(primary, chat), target(primary, embed)]
    )
    assert (document["generation"], document["pid"], document["windowSeconds"]) == (7, 42, 300)
    assert document["time"] == "2027-01-15T08:00:00.000Z"
    names = [entry["model"] for entry in document["models"]]
    assert names == ["chat-model", "embedder"]
    model = document["models"][0]
    assert (model["pool"], model["strategy"], model["kinds"]) == (
        "p",
        "cost",
        ["chat", "completion"],
    )
    assert [t["provider"] for t in model["targets"]] == ["primary", "backup"]
    first = model["targets"][0]
    assert first == {
        "provider": "primary",
        "type": "mock",
        "upstreamModel": "big-model",
        "kinds": ["chat", "completion"],
        "tier": 0,
        "weight": 100,
        "available": True,
        "circuit": {"state": "closed", "consecutiveFailures": 0, "coolDownLeftSeconds": 0.0},
        "healthCheck": {
            "healthy": True,
            "result": "not checked yet",
            "checkedAt": None,
            "ageSeconds": None,
        },
        "requests": 0,
        "failures": 0,
        "successRate": None,
        "latencyMs": {"p50": None, "p99": None},
        "inFlight": 0,
    }


def test_counts_per_target_and_added_up_per_model() -> None:
    chat = config.Model(name="m")
    fast, slow = target(mock("fast", chat), chat), target(mock("slow", chat), chat, priority=1)
    for _ in range(3):
        fast.window.begin()
        fast.window.succeeded(NOW, 0.010)
        fast.window.ended(NOW, broken=False)
    fast.window.begin()  # a stream still being relayed
    fast.window.succeeded(NOW, 0.010)
    slow.window.begin()
    slow.window.failed(NOW)
    slow.window.begin()
    slow.window.succeeded(NOW, 2.0)
    slow.window.ended(NOW, broken=False)
    model = view([fast, slow])["models"][0]
    assert (model["requests"], model["failures"], model["inFlight"]) == (6, 1, 1)
    assert model["successRate"] == round(5 / 6, 4)
    assert abs(model["latencyMs"]["p50"] - 10) <= 10 / 16
    assert abs(model["latencyMs"]["p99"] - 2000) <= 2000 / 16
    by_name = {entry["provider"]: entry for entry in model["targets"]}
    assert (by_name["fast"]["requests"], by_name["fast"]["inFlight"]) == (4, 1)
    assert by_name["fast"]["successRate"] == 1.0
    assert (by_name["slow"]["requests"], by_name["slow"]["failures"]) == (2, 1)
    assert by_name["slow"]["successRate"] == 0.5


def test_circuit_and_health_check_read_as_they_stand() -> None:
    chat = config.Model(name="m")
    now, health = [0.0], routing.Health()
    health.record(False, "no answer within 5s", WALL - 2.5)
    only = target(mock("only", chat), chat, clock=lambda: now[0], health=health)
    for _ in range(2):
        permit = only.breaker.acquire()
        assert permit is not None
        only.breaker.failure(permit)
    now[0] = 10.0
    entry = view([only])["models"][0]
    assert entry["available"] is False
    assert entry["targets"][0]["circuit"] == {
        "state": "open",
        "consecutiveFailures": 0,
        "coolDownLeftSeconds": 20.0,
    }
    assert entry["targets"][0]["healthCheck"] == {
        "healthy": False,
        "result": "no answer within 5s",
        "checkedAt": "2027-01-15T07:59:57.500Z",
        "ageSeconds": 2.5,
    }
    # Past the cool-down the breaker still reads open: the view moves nothing.
    now[0] = 100.0
    again = view([only])["models"][0]["targets"][0]["circuit"]
    assert again == {"state": "open", "consecutiveFailures": 0, "coolDownLeftSeconds": 0.0}
    assert only.breaker.state is breaker.State.OPEN


async def test_nothing_that_could_hold_a_secret_is_shown() -> None:
    chat = config.Model(name="m")
    spec = config.Provider(
        name="remote",
        type="openai",
        base_url=f"https://user:{SECRET}@models.internal.test/v1",
        api_key_file="/secrets/remote-key",
        models=[chat],
    )
    provider = registry.create(spec, SECRET)
    try:
        text = orjson.dumps(view([target(provider, chat)])).decode()
    finally:
        await provider.close()
    assert SECRET not in text
    assert "models.internal.test" not in text
    assert "/secrets/" not in text
