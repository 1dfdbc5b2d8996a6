"""The HorizontalPodAutoscaler, present only when the Gateway asks for autoscaling."""

from __future__ import annotations

from runestone_operator.core import meta
from runestone_operator.gateway import model, names


def hpa(owner: meta.Owner, autoscaling: model.Autoscaling) -> meta.Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta.object_meta(owner, owner.name, names.gateway_labels(owner.name)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": owner.name},
            "minReplicas": autoscaling.min_replicas,
            "maxReplicas": autoscaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": autoscaling.target_cpu_utilization_percentage,
                        },
                    },
                }
            ],
        },
    }
