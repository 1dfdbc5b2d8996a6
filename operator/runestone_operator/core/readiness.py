"""Judging pods, and the Ready, Progressing and Degraded conditions that follow from what a
reconcile saw. A pod counts as ready when its containers are ready AND its readiness-gate
condition is True (set by its sidecar); the pod's own `Ready` condition alone is never trusted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import conditions
from runestone_operator.core.conditions import Observation, Reason


def _condition(pod: Mapping[str, Any], kind: str) -> str | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def pod_ready(pod: Mapping[str, Any], gate: str) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return _condition(pod, "ContainersReady") == "True" and _condition(pod, gate) == "True"


def ready_pods(pods: Iterable[Mapping[str, Any]], gate: str) -> int:
    return sum(1 for pod in pods if pod_ready(pod, gate))


@dataclass(frozen=True)
class Blocker:
    """Why a reconcile stopped early (see `core.context.Blocked`)."""

    reason: str
    message: str
    waiting: bool = False


@dataclass(frozen=True)
class Finding:
    """Something a reconcile saw that a condition reports: a reason and a message."""

    reason: str
    message: str


@dataclass(frozen=True)
class Workload:
    """How many of a workload's pods are ready, of how many wanted."""

    ready: int
    wanted: int
    unit: str = "pods"

    @property
    def available(self) -> bool:
        return self.wanted > 0 and self.ready >= self.wanted


def observations(
    workload: Workload | None,
    absent: str,
    blocker: Blocker | None,
    *,
    progress: Sequence[Finding] = (),
    problems: Sequence[Finding] = (),
) -> list[Observation]:
    """Ready, Progressing and Degraded, the same way for every kind.

    `workload` is None while it does not exist (`absent` says which object is missing). A
    blocker that waits makes Progressing True, any other makes Degraded True; otherwise the
    first of `progress` (changes under way) and of `problems` (what the operator refused or
    could not do) decide, in the order given."""
    if workload is None:
        ready = Observation(
            conditions.READY,
            conditions.FALSE,
            blocker.reason if blocker else Reason.NOT_RECONCILED,
            absent,
        )
    else:
        counted = f"{workload.ready}/{workload.wanted} {workload.unit} ready"
        ready = (
            Observation(conditions.READY, conditions.TRUE, Reason.AVAILABLE, counted)
            if workload.available
            else Observation(conditions.READY, conditions.FALSE, Reason.PODS_NOT_READY, counted)
        )

    if blocker is not None and blocker.waiting:
        progressing = Observation(
            conditions.PROGRESSING, conditions.TRUE, blocker.reason, blocker.message
        )
    elif progress:
        progressing = Observation(
            conditions.PROGRESSING, conditions.TRUE, progress[0].reason, progress[0].message
        )
    else:
        progressing = Observation(
            conditions.PROGRESSING,
            conditions.FALSE,
            Reason.ROLLOUT_COMPLETE if workload is not None else Reason.NOT_RECONCILED,
            "no rollout in progress",
        )

    if blocker is not None and not blocker.waiting:
        degraded = Observation(
            conditions.DEGRADED, conditions.TRUE, blocker.reason, blocker.message
        )
    elif problems:
        degraded = Observation(
            conditions.DEGRADED, conditions.TRUE, problems[0].reason, problems[0].message
        )
    else:
        degraded = Observation(
            conditions.DEGRADED, conditions.FALSE, Reason.RECONCILED, "every child matches the spec"
        )
    return [ready, progressing, degraded]
