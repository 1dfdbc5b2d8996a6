"""The health port's model view (`GET /models`): every model a client may ask for, and every
provider route behind it, with what an operator looks at first when a model misbehaves: circuit
state, the latest active health check, success rate, p50/p99 latency and request count over the
recent window, and requests in flight.

Built only when read, from the routing state as it stands; reading moves no breaker and no
window. It names providers and models as the config does, and carries no key, no credential and
no upstream URL (a URL may hold a password)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from runestone_gateway import config
from runestone_gateway.failover import breaker, routing, window

PATH = "/models"
"""The view of every model; `/models/<name>` is one model's entry."""

_STATES = {
    breaker.State.CLOSED: "closed",
    breaker.State.HALF_OPEN: "half-open",
    breaker.State.OPEN: "open",
}


def document(
    targets: Sequence[routing.Target],
    pools: Sequence[config.ProviderPool],
    *,
    generation: int,
    pid: int,
    now: float,
    wall: float,
) -> dict[str, Any]:
    """The whole view. `now` is a perf_counter reading (the windows' clock), `wall` the time."""
    return {
        "generation": generation,
        "pid": pid,
        "time": _timestamp(wall),
        "windowSeconds": window.WINDOW_SECONDS,
        "models": models(targets, pools, now=now, wall=wall),
    }


def models(
    targets: Sequence[routing.Target],
    pools: Sequence[config.ProviderPool],
    *,
    now: float,
    wall: float,
) -> list[dict[str, Any]]:
    """One entry per model name, in name order."""
    by_model: dict[str, list[routing.Target]] = {}
    for target in targets:
        by_model.setdefault(target.model.name, []).append(target)
    strategies = {pool.name: pool.routing.strategy for pool in pools}
    return [
        _model(name, by_model[name], strategies, now=now, wall=wall) for name in sorted(by_model)
    ]


def _model(
    name: str,
    targets: list[routing.Target],
    strategies: dict[str, config.RoutingStrategy],
    *,
    now: float,
    wall: float,
) -> dict[str, Any]:
    targets = sorted(targets, key=lambda target: (target.priority, target.provider_name))
    summaries = [target.window.summary(now) for target in targets]
    entries = [
        _target(target, summary, wall) for target, summary in zip(targets, summaries, strict=True)
    ]
    pool = targets[0].pool
    return {
        "model": name,
        "pool": pool,
        "strategy": strategies.get(pool),
        "kinds": sorted({kind for target in targets for kind in target.model.kinds}),
        "available": any(entry["available"] for entry in entries),
        **_recent(window.merged(summaries)),
        "targets": entries,
    }


def _target(target: routing.Target, summary: window.Summary, wall: float) -> dict[str, Any]:
    health = target.health
    state_breaker = target.breaker
    cooling_down = state_breaker.cooling_down()
    checked_at = health.checked_at
    return {
        "provider": target.provider_name,
        "type": target.provider.spec.type,
        "upstreamModel": target.upstream_model,
        "kinds": list(target.model.kinds),
        "tier": target.priority,
        "weight": target.weight,
        "available": health.healthy and not cooling_down,
        "circuit": {
            "state": _STATES[state_breaker.state],
            "consecutiveFailures": state_breaker.consecutive_failures,
            "coolDownLeftSeconds": round(state_breaker.cool_down_left(), 3),
        },
        "healthCheck": {
            "healthy": health.healthy,
            "result": health.result,
            "checkedAt": _timestamp(checked_at) if checked_at is not None else None,
            "ageSeconds": round(wall - checked_at, 3) if checked_at is not None else None,
        },
        **_recent(summary),
    }


def _recent(summary: window.Summary) -> dict[str, Any]:
    rate = summary.success_rate
    return {
        "requests": summary.requests,
        "failures": summary.failures,
        "successRate": round(rate, 4) if rate is not None else None,
        "latencyMs": {
            "p50": _milliseconds(summary.percentile(0.5)),
            "p99": _milliseconds(summary.percentile(0.99)),
        },
        "inFlight": summary.inflight,
    }


def _milliseconds(seconds: float | None) -> float | None:
    return round(seconds * 1000, 3) if seconds is not None else None


def _timestamp(wall: float) -> str:
    moment = datetime.datetime.fromtimestamp(wall, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
