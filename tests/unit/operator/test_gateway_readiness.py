"""A pod counts when ContainersReady and its gate are True; the conditions that follow."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_operator.core import conditions, readiness
from runestone_operator.core.conditions import Reason
from runestone_operator.gateway import model as gateway_model
from runestone_operator.gateway import readiness as gateway_readiness

GATE = "runestone.dev/gateway-ready"


def _pod(
    containers: str | None, gate: str | None, ready: str = "True", deleting: bool = False
) -> dict[str, Any]:
    conds = [{"type": "Ready", "status": ready}]
    if containers is not None:
        conds.append({"type": "ContainersReady", "status": containers})
    if gate is not None:
        conds.append({"type": GATE, "status": gate})
    meta: dict[str, Any] = {"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {}
    return {"metadata": meta, "status": {"conditions": conds}}


@pytest.mark.parametrize(
    ("pod", "ready"),
    [
        (_pod("True", "True"), True),
        (_pod("True", None), False),  # the sidecar has not reported yet
        (_pod("True", "False"), False),
        (_pod("False", "True"), False),
        (_pod(None, None, ready="True"), False),  # Ready alone is never trusted
        (_pod("True", "True", deleting=True), False),
    ],
)
def test_pod_ready(pod: dict[str, Any], ready: bool) -> None:
    assert readiness.pod_ready(pod, GATE) is ready


def _deployment(
    replicas: int, updated: int, generation: int = 2, observed: int = 2
) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {"updatedReplicas": updated, "observedGeneration": observed},
    }


def _by_type(observations: list[conditions.Observation]) -> dict[str, conditions.Observation]:
    return {o.type: o for o in observations}


def test_all_ready() -> None:
    result = _by_type(
        gateway_readiness.gateway_observations(
            gateway_readiness.rollout(_deployment(2, 2)), 2, None
        )
    )
    assert (result["Ready"].status, result["Ready"].reason) == ("True", Reason.AVAILABLE)
    assert result["Progressing"].status == "False"
    assert result["Degraded"].status == "False"


def test_rolling_out() -> None:
    result = _by_type(
        gateway_readiness.gateway_observations(
            gateway_readiness.rollout(_deployment(2, 1)), 1, None
        )
    )
    assert result["Ready"].status == "False"
    assert (result["Progressing"].status, result["Progressing"].reason) == (
        "True",
        Reason.ROLLING_OUT,
    )
    unobserved = gateway_readiness.rollout(_deployment(2, 2, generation=3, observed=2))
    assert unobserved is not None
    assert not unobserved.complete


def test_blocked_is_degraded_but_waiting_is_progressing() -> None:
    fault = readiness.Blocker(Reason.MISSING_SECRET, "Secret 'x' does not exist")
    result = _by_type(gateway_readiness.gateway_observations(None, 0, fault))
    assert (result["Degraded"].status, result["Degraded"].reason) == ("True", Reason.MISSING_SECRET)
    assert result["Ready"].reason == Reason.MISSING_SECRET
    wait = readiness.Blocker(Reason.WAITING_FOR_CERTIFICATE, "waiting", waiting=True)
    result = _by_type(gateway_readiness.gateway_observations(None, 0, wait))
    assert result["Degraded"].status == "False"
    assert (result["Progressing"].status, result["Progressing"].reason) == (
        "True",
        Reason.WAITING_FOR_CERTIFICATE,
    )


def test_last_good_deployment_still_counts_while_degraded() -> None:
    fault = readiness.Blocker(Reason.UNKNOWN_PROVIDER_POOL, "gone")
    result = _by_type(
        gateway_readiness.gateway_observations(
            gateway_readiness.rollout(_deployment(1, 1)), 1, fault
        )
    )
    assert result["Ready"].status == "True"
    assert result["Degraded"].status == "True"


def _spec(**fields: Any) -> gateway_model.GatewaySpec:
    return gateway_model.GatewaySpec.model_validate({"providerPools": [{"name": "p"}], **fields})


REDIS = {"type": "redis", "url": "redis://redis.infra.svc:6379/0"}


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"replicas": 1}, "True", "SingleReplica"),
        ({"replicas": 3, "rateLimitStore": REDIS}, "True", "SharedStore"),
        ({"autoscaling": {"maxReplicas": 4}, "rateLimitStore": REDIS}, "True", "SharedStore"),
        ({"replicas": 2}, "False", "PerReplicaLimits"),
        ({"autoscaling": {"minReplicas": 1, "maxReplicas": 3}}, "False", "PerReplicaLimits"),
    ],
)
def test_limits_are_shared_only_by_one_replica_or_a_shared_store(
    fields: dict[str, Any], status: str, reason: str
) -> None:
    """With the local store, N replicas allow N times every limit and budget."""
    observed = gateway_readiness.limits_observation(_spec(**fields))
    assert (observed.type, observed.status, observed.reason) == ("LimitsShared", status, reason)


def test_the_per_replica_warning_says_how_far_limits_stretch_and_what_to_do() -> None:
    message = gateway_readiness.limits_observation(_spec(replicas=3)).message
    assert "limits are per replica" in message
    assert "up to 3 times its limits and budget" in message
    assert "forgotten when a pod restarts" in message
    assert "rateLimitStore.type to redis" in message
    scaled = _spec(autoscaling={"minReplicas": 2, "maxReplicas": 6})
    assert "up to 6 replicas (autoscaling)" in gateway_readiness.limits_observation(scaled).message
