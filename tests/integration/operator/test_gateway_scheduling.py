"""A Gateway's `spec.scheduling` reaches its pods, and the real scheduler honours it: with a node
selector only one node matches, the pod lands on that node; one that no node matches leaves the
pod unscheduled rather than placed anywhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects

POOL_LABEL = "test.runestone.dev/pool"


@pytest.fixture
def labelled_node(kube_api: client.ApiClient, namespace: str) -> Iterator[str]:
    """One schedulable node, labelled for this test alone (the label is its namespace)."""
    core = client.CoreV1Api(kube_api)
    nodes = [node for node in core.list_node().items if not node.spec.unschedulable]
    assert nodes, "no schedulable node"
    name = nodes[-1].metadata.name
    core.patch_node(name, {"metadata": {"labels": {POOL_LABEL: namespace}}})
    try:
        yield name
    finally:
        core.patch_node(name, {"metadata": {"labels": {POOL_LABEL: None}}})


def _pod(api: client.ApiClient, namespace: str, gateway: str) -> client.V1Pod:
    pods = objects.gateway_pods(api, namespace, gateway)
    assert len(pods) == 1, [pod.metadata.name for pod in pods]
    return pods[0]


def test_the_gateway_pod_lands_on_the_node_its_selector_names(
    kube_api: client.ApiClient, namespace: str, labelled_node: str
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    scheduling = {
        "nodeSelector": {POOL_LABEL: namespace},
        "tolerations": [{"key": "dedicated", "value": "gateways", "effect": "NoSchedule"}],
    }
    objects.create(
        kube_api, namespace, objects.gateway("placed", replicas=1, scheduling=scheduling)
    )

    def placed() -> str:
        return str(_pod(kube_api, namespace, "placed").spec.node_name or "")

    assert eventually(placed, timeout=90, what="the gateway pod scheduled") == labelled_node
    pod = _pod(kube_api, namespace, "placed")
    assert pod.spec.node_selector == {POOL_LABEL: namespace}
    assert [(t.key, t.value, t.effect) for t in pod.spec.tolerations or []][:1] == [
        ("dedicated", "gateways", "NoSchedule")
    ]


def test_a_selector_no_node_matches_leaves_the_pod_unscheduled(
    kube_api: client.ApiClient, namespace: str
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    scheduling = {"nodeSelector": {POOL_LABEL: f"{namespace}-nowhere"}}
    objects.create(
        kube_api, namespace, objects.gateway("nowhere", replicas=1, scheduling=scheduling)
    )

    def unschedulable() -> bool:
        pod = _pod(kube_api, namespace, "nowhere")
        return any(
            c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
            for c in pod.status.conditions or []
        )

    eventually(unschedulable, timeout=90, what="the scheduler's refusal")
    assert not _pod(kube_api, namespace, "nowhere").spec.node_name
