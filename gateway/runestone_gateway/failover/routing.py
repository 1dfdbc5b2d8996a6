"""Routing inside a pool: priority tiers tried in order, one attempt per tier; within a tier the
pool's strategy picks among the targets whose breaker and health check allow a call.

Tables are built once per config generation; picking does no config work."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from runestone_gateway import config
from runestone_gateway.failover import breaker, window
from runestone_gateway.providers import base

EWMA_WEIGHT = 0.3  # share of the newest sample in the moving average


class Ewma:
    """Exponentially weighted moving average of latency; None until the first sample."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: float | None = None

    def observe(self, sample: float) -> None:
        if self.value is None:
            self.value = sample
        else:
            self.value += EWMA_WEIGHT * (sample - self.value)


class Health:
    """The latest active health check of one provider."""

    __slots__ = ("checked_at", "healthy", "result")

    def __init__(self) -> None:
        self.healthy = True
        self.result = "not checked yet"
        """What the check saw: ok, an unhealthy answer, a timeout, an unexpected error."""
        self.checked_at: float | None = None
        """Wall-clock time of the latest check."""

    def record(self, healthy: bool, result: str, at: float) -> None:
        self.healthy = healthy
        self.result = result
        self.checked_at = at


@dataclass(frozen=True, eq=False)
class Target:
    """One provider serving one model name, with the state routing keeps about it."""

    pool: str
    provider: base.Provider
    model: config.Model
    priority: int
    weight: int
    price: float  # dollars per million tokens, input plus output: the `cost` strategy's key
    breaker: breaker.CircuitBreaker
    latency: Ewma
    health: Health
    window: window.Window

    @property
    def provider_name(self) -> str:
        return self.provider.name

    @property
    def upstream_model(self) -> str:
        return self.model.upstream_name

    def available(self) -> bool:
        return self.health.healthy and self.breaker.available()


@dataclass(frozen=True)
class Route:
    """Where requests for one model name and kind go."""

    model: str
    pool: str
    strategy: config.RoutingStrategy
    tiers: tuple[tuple[Target, ...], ...]  # by ascending priority


def build_route(
    model: str, pool: str, strategy: config.RoutingStrategy, targets: Sequence[Target]
) -> Route:
    priorities = sorted({target.priority for target in targets})
    tiers = tuple(
        tuple(target for target in targets if target.priority == priority)
        for priority in priorities
    )
    return Route(model, pool, strategy, tiers)


def pick(
    tier: Sequence[Target], strategy: config.RoutingStrategy, rng: random.Random
) -> Target | None:
    """The target of this tier to try, or None when none may be called now."""
    if len(tier) == 1:  # the common case, without building a list of candidates
        return tier[0] if tier[0].available() else None
    candidates = [target for target in tier if target.available()]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    if strategy == "least-latency":
        # Unmeasured targets count as fastest, so every target gets measured.
        best = min(target.latency.value or 0.0 for target in candidates)
        candidates = [t for t in candidates if (t.latency.value or 0.0) == best]
    elif strategy == "cost":
        cheapest = min(target.price for target in candidates)
        candidates = [target for target in candidates if target.price == cheapest]
    return _weighted(candidates, rng)


def _weighted(candidates: Sequence[Target], rng: random.Random) -> Target:
    if len(candidates) == 1:
        return candidates[0]
    total = sum(target.weight for target in candidates)
    if total <= 0:
        return rng.choice(candidates)
    point = rng.uniform(0, total)
    for target in candidates:
        point -= target.weight
        if point <= 0 and target.weight > 0:
            return target
    return next(target for target in reversed(candidates) if target.weight > 0)
