"""Judging a gateway's pods and rollout, and the conditions that follow. A pod counts as ready
when its containers are ready AND its readiness-gate condition is True (set by its sidecar); the
pod's own `Ready` condition alone is never trusted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runestone_operator import conditions, names
from runestone_operator.conditions import Observation, Reason


def _condition(pod: Mapping[str, Any], kind: str) -> str | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def pod_ready(pod: Mapping[str, Any], gate: str = names.GATEWAY_READY_GATE) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return _condition(pod, "ContainersReady") == "True" and _condition(pod, gate) == "True"


def ready_pods(pods: Iterable[Mapping[str, Any]], gate: str = names.GATEWAY_READY_GATE) -> int:
    return sum(1 for pod in pods if pod_ready(pod, gate))


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


@dataclass(frozen=True)
class Blocker:
    """Why a reconcile stopped early (see `steps.context.Blocked`)."""

    reason: str
    message: str
    waiting: bool = False


def gateway_observations(
    current: Rollout | None, ready: int, blocker: Blocker | None
) -> list[Observation]:
    """Ready, Progressing and Degraded for a Gateway."""
    if current is None:
        ready_obs = Observation(
            conditions.READY,
            conditions.FALSE,
            blocker.reason if blocker else Reason.NOT_RECONCILED,
            "the gateway Deployment does not exist yet",
        )
    elif current.desired > 0 and ready >= current.desired:
        ready_obs = Observation(
            conditions.READY,
            conditions.TRUE,
            Reason.AVAILABLE,
            f"{ready}/{current.desired} pods ready",
        )
    else:
        ready_obs = Observation(
            conditions.READY,
            conditions.FALSE,
            Reason.PODS_NOT_READY,
            f"{ready}/{current.desired} pods ready",
        )

    if blocker is not None and blocker.waiting:
        progressing = Observation(
            conditions.PROGRESSING, conditions.TRUE, blocker.reason, blocker.message
        )
    elif current is not None and not (current.complete and ready >= current.desired):
        progressing = Observation(
            conditions.PROGRESSING,
            conditions.TRUE,
            Reason.ROLLING_OUT,
            f"{current.updated}/{current.desired} pods updated, {ready} ready",
        )
    else:
        progressing = Observation(
            conditions.PROGRESSING,
            conditions.FALSE,
            Reason.ROLLOUT_COMPLETE if current is not None else Reason.NOT_RECONCILED,
            "no rollout in progress",
        )

    if blocker is not None and not blocker.waiting:
        degraded = Observation(
            conditions.DEGRADED, conditions.TRUE, blocker.reason, blocker.message
        )
    else:
        degraded = Observation(
            conditions.DEGRADED, conditions.FALSE, Reason.RECONCILED, "every child matches the spec"
        )
    return [ready_obs, progressing, degraded]
