"""A Gateway and a VectorCluster of one name in one namespace would overwrite each other's
Service and certificates: the one created second is blocked (`NameTaken`, a Warning Event that
says to rename it) and makes nothing, while the first keeps its children."""

from __future__ import annotations

from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects
from integration.vectorcluster import vectorclusters

TIMEOUT = 60.0
SPEC = vectorclusters.spec(replicas=1)


def test_a_vector_cluster_named_like_a_gateway_is_blocked_and_the_gateway_keeps_its_service(
    kube_api: client.ApiClient, namespace: str
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    gateway = objects.create(kube_api, namespace, objects.gateway("twin"))
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    eventually(lambda: core.read_namespaced_service("twin", namespace), what="the Service")
    objects.create(kube_api, namespace, vectorclusters.manifest("twin", SPEC))
    blocked = objects.wait_condition(
        kube_api, namespace, "vectorclusters", "twin", "Degraded", "True", "NameTaken",
        timeout=TIMEOUT, what="the VectorCluster blocked",
    )  # fmt: skip
    assert objects.must(objects.condition(blocked, "Ready"))["reason"] == "NameTaken"
    message = objects.must(objects.condition(blocked, "Degraded"))["message"]
    assert "a Gateway named 'twin' exists in this namespace and came first" in message
    assert "another name" in message
    events = eventually(
        lambda: objects.warnings(kube_api, namespace, "NameTaken"), what="a Warning Event"
    )
    assert any("Gateway named 'twin'" in event for event in events)

    service = core.read_namespaced_service("twin", namespace)
    assert [owner.kind for owner in service.metadata.owner_references] == ["Gateway"]
    assert service.metadata.owner_references[0].uid == gateway["metadata"]["uid"]
    assert not apps.list_namespaced_stateful_set(namespace).items  # the VectorCluster made none
    tls = core.read_namespaced_secret("twin-tls", namespace)
    assert [owner.kind for owner in tls.metadata.owner_references or []] in ([], ["Gateway"])

    objects.wait_condition(
        kube_api, namespace, "gateways", "twin", "Degraded", "False",
        timeout=TIMEOUT, what="the Gateway still healthy",
    )  # fmt: skip


def test_a_gateway_named_like_a_vector_cluster_is_blocked_and_the_cluster_keeps_its_service(
    kube_api: client.ApiClient, namespace: str
) -> None:
    cluster = objects.create(kube_api, namespace, vectorclusters.manifest("twin", SPEC))
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    eventually(lambda: core.read_namespaced_service("twin", namespace), what="the Service")
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(kube_api, namespace, objects.gateway("twin"))
    blocked = objects.wait_condition(
        kube_api, namespace, "gateways", "twin", "Degraded", "True", "NameTaken",
        timeout=TIMEOUT, what="the Gateway blocked",
    )  # fmt: skip
    message = objects.must(objects.condition(blocked, "Degraded"))["message"]
    assert "a VectorCluster named 'twin' exists in this namespace and came first" in message
    service = core.read_namespaced_service("twin", namespace)
    assert [owner.uid for owner in service.metadata.owner_references] == [
        cluster["metadata"]["uid"]
    ]
    assert not apps.list_namespaced_deployment(namespace).items  # the Gateway made none
