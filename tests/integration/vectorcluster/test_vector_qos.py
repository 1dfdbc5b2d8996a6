"""A VectorCluster whose resources are Guaranteed gets member pods the real API server classes
Guaranteed (the sidecar and the engine's init container made Guaranteed too), so a node with
the static CPU manager policy can give the database whole cores of its own; any other keeps the
small Burstable helpers. Only the pods' class is read: the members need not run."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from devcluster import operator_process
from devcluster.kube import eventually
from integration.vectorcluster import vectorclusters


def _qos_classes(api: client.ApiClient, namespace: str, cluster: str) -> list[str]:
    selector = vectorclusters.member_selector(cluster)
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
    assert pods, f"no member pod of {cluster} yet"
    return sorted({pod.status.qos_class for pod in pods})


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({"limits": {"cpu": 1, "memory": "1Gi"}}, "Guaranteed"),
        ({"requests": {"cpu": "100m", "memory": "256Mi"}}, "Burstable"),
    ],
)
def test_the_member_pods_qos_class_follows_the_clusters_resources(
    kube_api: client.ApiClient,
    namespace: str,
    operator: operator_process.OperatorProcess,
    resources: dict[str, Any],
    qos: str,
) -> None:
    body = vectorclusters.spec(replicas=1, resources=resources)
    client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
        vectorclusters.GROUP,
        vectorclusters.VERSION,
        namespace,
        vectorclusters.PLURAL,
        vectorclusters.manifest("sized", body),
    )
    found = eventually(
        lambda: _qos_classes(kube_api, namespace, "sized"), timeout=120, what="the member's pod"
    )
    assert found == [qos], operator.log_tail(30)
