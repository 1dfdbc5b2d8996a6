"""The readiness-gate condition: its reasons, and the one-condition patch that reports it.

Pure functions only: what to send is decided here from a freshly read pod; `reporter` sends it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Reasons are CamelCase constants, as Kubernetes condition reasons are.
TARGET_READY = "TargetReady"
STARTING = "Starting"
TERMINATING = "Terminating"
TARGET_NOT_READY = "TargetNotReady"  # the target answered, and said it is not ready
TARGET_UNREACHABLE = "TargetUnreachable"  # refused, reset, unresolvable
PROBE_TIMEOUT = "ProbeTimeout"
BAD_RESPONSE = "BadResponse"  # an answer that is not what the protocol promises
NOT_SERVING = "NotServing"  # grpc.health.v1 answered, but not SERVING
UNAUTHORIZED = "Unauthorized"  # the target refused the sidecar's credentials
NODE_NOT_IN_CLUSTER = "NodeNotInCluster"  # member: missing from its cluster's member list
NODE_UNHEALTHY = "NodeUnhealthy"  # member: listed, but not healthy
SHARDS_NOT_READY = "ShardsNotReady"  # member: a shard on it is loading or read-only
INDEX_BEHIND = "IndexBehind"  # member: serving, but its vector index lags what it stored

GATE_PREFIX = "runestone.dev/"
MAX_MESSAGE = 1024  # a condition message is for humans; keep the pod object small


@dataclass(frozen=True)
class Desired:
    """The condition the sidecar wants its pod to carry."""

    ready: bool
    reason: str
    message: str

    @property
    def status(self) -> str:
        return "True" if self.ready else "False"


def now_rfc3339() -> str:
    """Kubernetes timestamps: UTC, whole seconds, `Z`."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find(pod: Mapping[str, Any], condition_type: str) -> Mapping[str, Any] | None:
    conditions = (pod.get("status") or {}).get("conditions") or []
    for condition in conditions:
        if isinstance(condition, Mapping) and condition.get("type") == condition_type:
            return condition
    return None


def matches(existing: Mapping[str, Any] | None, desired: Desired) -> bool:
    """True when the pod already carries exactly what we want to say."""
    return (
        existing is not None
        and existing.get("status") == desired.status
        and (existing.get("reason") or "") == desired.reason
        and (existing.get("message") or "") == _clip(desired.message)
    )


def plan_patch(
    pod: Mapping[str, Any], condition_type: str, desired: Desired, now: str
) -> dict[str, Any] | None:
    """The strategic-merge patch that sets one condition, or None when nothing would change.

    `conditions` merges by `type`, so the patch names only our condition and leaves the kubelet's
    (or kwok's) alone. `lastTransitionTime` moves only when the status really changes. The
    resourceVersion makes the API server refuse the patch with 409 if the pod changed since it was
    read, so a decision taken on a stale read is never written.
    """
    existing = find(pod, condition_type)
    if matches(existing, desired):
        return None
    transition = now
    if existing is not None and existing.get("status") == desired.status:
        transition = existing.get("lastTransitionTime") or now
    condition = {
        "type": condition_type,
        "status": desired.status,
        "reason": desired.reason,
        "message": _clip(desired.message),
        "lastTransitionTime": transition,
    }
    patch: dict[str, Any] = {"status": {"conditions": [condition]}}
    resource_version = (pod.get("metadata") or {}).get("resourceVersion")
    if resource_version:
        patch["metadata"] = {"resourceVersion": resource_version}
    return patch


def _clip(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
