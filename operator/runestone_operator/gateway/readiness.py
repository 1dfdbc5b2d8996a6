"""Judging a gateway's Deployment rollout, and the conditions that follow (see
`core.readiness.observations`); and whether its replicas share one count of every limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import conditions, readiness
from runestone_operator.core.conditions import Observation, Reason
from runestone_operator.gateway import model


@dataclass(frozen=True)
class Rollout:
    """The Deployment as the controller last reported it."""

    desired: int
    updated: int
    observed: bool
    """The Deployment controller has seen the latest template."""

    @property
    def complete(self) -> bool:
        return self.observed and self.updated >= self.desired


def rollout(deployment: Mapping[str, Any] | None) -> Rollout | None:
    if deployment is None:
        return None
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation", 0)
    return Rollout(
        desired=int(spec.get("replicas", 1)),
        updated=int(status.get("updatedReplicas", 0)),
        observed=int(status.get("observedGeneration", 0)) >= int(generation),
    )


def gateway_observations(
    current: Rollout | None, ready: int, blocker: readiness.Blocker | None
) -> list[Observation]:
    """Ready, Progressing and Degraded for a Gateway."""
    progress = []
    if current is not None and not (current.complete and ready >= current.desired):
        progress.append(
            readiness.Finding(
                Reason.ROLLING_OUT,
                f"{current.updated}/{current.desired} pods updated, {ready} ready",
            )
        )
    return readiness.observations(
        readiness.Workload(ready, current.desired) if current is not None else None,
        "the gateway Deployment does not exist yet",
        blocker,
        progress=progress,
    )


def limits_observation(spec: model.GatewaySpec) -> Observation:
    """`LimitsShared`: False (a warning) when more than one replica may run with a local limit
    store, since each then counts every key's limits and budgets on its own."""
    store = spec.rate_limit_store
    if store.shared():
        return Observation(
            conditions.LIMITS_SHARED,
            conditions.TRUE,
            Reason.SHARED_STORE,
            "limits and budgets are counted in Redis, shared by every replica and kept across "
            "restarts",
        )
    most = spec.max_replicas()
    if most == 1:
        return Observation(
            conditions.LIMITS_SHARED,
            conditions.TRUE,
            Reason.SINGLE_REPLICA,
            "one replica counts every limit and budget; with the local store, what a key spent "
            "is forgotten when its pod restarts (rateLimitStore.type redis keeps it)",
        )
    replicas = f"up to {most} replicas (autoscaling)" if spec.autoscaling else f"{most} replicas"
    return Observation(
        conditions.LIMITS_SHARED,
        conditions.FALSE,
        Reason.PER_REPLICA_LIMITS,
        f"limits are per replica: with the local rateLimitStore, each of the {replicas} counts "
        f"every key's limits and budgets on its own, so a key gets up to {most} times its "
        "limits and budget, and what it spent is forgotten when a pod restarts; set "
        "rateLimitStore.type to redis to share them",
    )
