"""Tiers and the strategies that pick within a tier."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from runestone_gateway import config
from runestone_gateway.failover import breaker, routing, window
from runestone_gateway.providers import mock


def target(
    name: str,
    *,
    priority: int = 0,
    weight: int = 100,
    price: float = 0.0,
    latency: float | None = None,
) -> routing.Target:
    spec = config.Provider(
        name=name, type="mock", priority=priority, weight=weight, models=[config.Model(name="m")]
    )
    average = routing.Ewma()
    if latency is not None:
        average.observe(latency)
    return routing.Target(
        pool="p",
        provider=mock.MockProvider(spec),
        model=spec.models[0],
        priority=priority,
        weight=weight,
        price=price,
        breaker=breaker.CircuitBreaker(config.CircuitBreaker(failure_threshold=1)),
        latency=average,
        health=routing.Health(),
        window=window.Window(),
    )


def name(picked: routing.Target | None) -> str:
    assert picked is not None
    return picked.provider_name


def trip(t: routing.Target) -> None:
    permit = t.breaker.acquire()
    assert permit is not None
    t.breaker.failure(permit)


def test_tiers_are_ordered_by_priority() -> None:
    route = routing.build_route(
        "m",
        "p",
        "weighted",
        [target("c", priority=2), target("a"), target("b", priority=1), target("a2")],
    )
    assert [[t.provider_name for t in tier] for tier in route.tiers] == [["a", "a2"], ["b"], ["c"]]


def test_weighted_follows_the_weights() -> None:
    tier = [target("heavy", weight=300), target("light", weight=100), target("never", weight=0)]
    rng = random.Random(7)
    picks = Counter(name(routing.pick(tier, "weighted", rng)) for _ in range(4000))
    assert picks["never"] == 0
    assert 2.5 < picks["heavy"] / picks["light"] < 3.5


def test_zero_weight_target_is_used_when_it_is_the_only_one_left() -> None:
    main, spare = target("main", weight=100), target("spare", weight=0)
    trip(main)
    assert routing.pick([main, spare], "weighted", random.Random(1)) is spare


def test_least_latency_prefers_the_fastest_and_measures_the_unmeasured_first() -> None:
    fast, slow = target("fast", latency=0.1), target("slow", latency=0.9)
    rng = random.Random(3)
    picks = {name(routing.pick([slow, fast], "least-latency", rng)) for _ in range(50)}
    assert picks == {"fast"}
    fresh = target("fresh")
    assert routing.pick([slow, fast, fresh], "least-latency", rng) is fresh


def test_cost_prefers_the_cheapest() -> None:
    cheap, dear = target("cheap", price=0.5), target("dear", price=5.0)
    rng = random.Random(5)
    assert {name(routing.pick([dear, cheap], "cost", rng)) for _ in range(50)} == {"cheap"}
    trip(cheap)
    assert routing.pick([dear, cheap], "cost", rng) is dear


@pytest.mark.parametrize("strategy", ["weighted", "least-latency", "cost"])
def test_open_breakers_and_failed_health_checks_are_skipped(
    strategy: config.RoutingStrategy,
) -> None:
    broken, sick, fine = target("broken"), target("sick"), target("fine")
    trip(broken)
    sick.health.healthy = False
    rng = random.Random(11)
    assert {routing.pick([broken, sick, fine], strategy, rng) for _ in range(30)} == {fine}
    fine.health.healthy = False
    assert routing.pick([broken, sick, fine], strategy, rng) is None


def test_ewma_moves_toward_new_samples() -> None:
    average = routing.Ewma()
    average.observe(1.0)
    assert average.value == 1.0
    average.observe(2.0)
    assert average.value == pytest.approx(1.0 + routing.EWMA_WEIGHT)
