"""The PodDisruptionBudget exists only when more than one replica is guaranteed."""

from __future__ import annotations

import pytest

from runestone_operator.core import meta
from runestone_operator.gateway import model as gateway
from runestone_operator.gateway.builders import pdb


@pytest.mark.parametrize(
    ("extra", "wanted"),
    [
        ({"replicas": 1}, False),
        ({"replicas": 2}, True),
        ({"replicas": 1, "autoscaling": {"minReplicas": 1, "maxReplicas": 4}}, False),
        ({"replicas": 1, "autoscaling": {"minReplicas": 2, "maxReplicas": 4}}, True),
    ],
)
def test_wanted(extra: dict[str, object], wanted: bool) -> None:
    spec = gateway.GatewaySpec.model_validate({"providerPools": [{"name": "p"}], **extra})
    assert pdb.wanted(spec) is wanted


def test_one_pod_at_a_time(owner: meta.Owner) -> None:
    manifest = pdb.pdb(owner)
    assert manifest["apiVersion"] == "policy/v1"
    assert manifest["spec"]["maxUnavailable"] == 1
    assert manifest["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "main"
