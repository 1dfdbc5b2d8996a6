"""A Gateway whose resources are Guaranteed gets pods the real API server classes Guaranteed (its
sidecar made Guaranteed too), so a node with the static CPU manager policy can give the gateway
whole cores of its own; any other Gateway keeps the small Burstable sidecar. Resources the spec
gives the sidecar are the sidecar's, as given."""

from __future__ import annotations

import pytest
from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects


def _qos_classes(api: client.ApiClient, namespace: str, gateway: str) -> list[str]:
    pods = objects.gateway_pods(api, namespace, gateway)
    assert pods, f"no pod of {gateway} yet"
    return sorted({pod.status.qos_class for pod in pods})


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({"limits": {"cpu": 1, "memory": "256Mi"}}, "Guaranteed"),
        (
            {
                "requests": {"cpu": "1000m", "memory": "256Mi"},
                "limits": {"cpu": 1, "memory": "256Mi"},
            },
            "Guaranteed",
        ),
        ({"requests": {"cpu": "500m"}, "limits": {"cpu": 1, "memory": "256Mi"}}, "Burstable"),
        (None, "Burstable"),
    ],
)
def test_the_gateway_pods_qos_class_follows_the_gateways_resources(
    kube_api: client.ApiClient, namespace: str, resources: dict[str, object] | None, qos: str
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    extra = {} if resources is None else {"resources": resources}
    objects.create(kube_api, namespace, objects.gateway("sized", replicas=1, **extra))
    found = eventually(
        lambda: _qos_classes(kube_api, namespace, "sized"), timeout=90, what="the gateway's pod"
    )
    assert found == [qos]


def test_the_sidecar_runs_with_the_resources_the_gateway_gives_it(
    kube_api: client.ApiClient, namespace: str
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    sidecar = {"requests": {"cpu": "200m"}, "limits": {"cpu": "200m", "memory": "96Mi"}}
    gateway = objects.gateway(
        "sized",
        replicas=1,
        resources={"limits": {"cpu": 1, "memory": "256Mi"}},
        sidecar={"resources": sidecar},
    )
    objects.create(kube_api, namespace, gateway)
    found = eventually(
        lambda: _qos_classes(kube_api, namespace, "sized"), timeout=90, what="the gateway's pod"
    )
    assert found == ["Guaranteed"]  # both containers Guaranteed: the sidecar's own are
    (pod,) = objects.gateway_pods(kube_api, namespace, "sized")
    (container,) = [c for c in pod.spec.containers if c.name == "sidecar"]
    assert container.resources.requests == {"cpu": "200m", "memory": "96Mi"}  # defaulted
    assert container.resources.limits == sidecar["limits"]
