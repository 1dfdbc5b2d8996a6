"""The PodDisruptionBudget: one pod at a time may be evicted. A single replica gets none, since a
budget could only block node drains without keeping anything available."""

from __future__ import annotations

from runestone_operator.core import meta
from runestone_operator.core.builders import pdb as budget
from runestone_operator.gateway import model, names


def minimum_replicas(spec: model.GatewaySpec) -> int:
    return spec.autoscaling.min_replicas if spec.autoscaling else spec.replicas


def wanted(spec: model.GatewaySpec) -> bool:
    return minimum_replicas(spec) > 1


def pdb(owner: meta.Owner) -> meta.Manifest:
    return budget.pdb(
        owner, owner.name, names.gateway_labels(owner.name), names.gateway_selector(owner.name)
    )
