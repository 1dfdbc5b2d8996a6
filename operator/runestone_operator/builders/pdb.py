"""The PodDisruptionBudget: one pod at a time may be evicted. A single replica gets none, since a
budget could only block node drains without keeping anything available."""

from __future__ import annotations

from runestone_operator import names
from runestone_operator.builders import meta
from runestone_operator.models import gateway


def minimum_replicas(spec: gateway.GatewaySpec) -> int:
    return spec.autoscaling.min_replicas if spec.autoscaling else spec.replicas


def wanted(spec: gateway.GatewaySpec) -> bool:
    return minimum_replicas(spec) > 1


def pdb(owner: meta.Owner) -> meta.Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta.object_meta(owner, owner.name),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": names.gateway_selector(owner.name)},
        },
    }
