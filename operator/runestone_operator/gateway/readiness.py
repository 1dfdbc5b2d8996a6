"""Judging a gateway's Deployment rollout, and the conditions that follow (see
`core.readiness.observations`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import readiness
from runestone_operator.core.conditions import Observation, Reason


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
