"""The HorizontalPodAutoscaler."""

from __future__ import annotations

from runestone_operator.core import meta
from runestone_operator.gateway import model as gateway
from runestone_operator.gateway.builders import hpa


def test_hpa_targets_the_deployment_on_cpu(owner: meta.Owner) -> None:
    autoscaling = gateway.Autoscaling(min_replicas=2, max_replicas=10)
    manifest = hpa.hpa(owner, autoscaling)
    assert manifest["apiVersion"] == "autoscaling/v2"
    spec = manifest["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "main"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
    target = spec["metrics"][0]["resource"]
    assert target["name"] == "cpu"
    assert target["target"] == {"type": "Utilization", "averageUtilization": 70}
