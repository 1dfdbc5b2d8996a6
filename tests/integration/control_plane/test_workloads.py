"""The control plane really runs workloads: controllers, scheduler and kwok nodes cooperate."""

from __future__ import annotations

import pytest
from kubernetes import client

from devcluster.kube import eventually

pytestmark = pytest.mark.usefixtures("kwok_nodes")


def test_deployment_pods_are_created_scheduled_and_running(
    kube_api: client.ApiClient, namespace: str
) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                replicas=3,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(
                        containers=[client.V1Container(name="web", image="example.invalid/web:1")]
                    ),
                ),
            ),
        ),
    )

    # kube-controller-manager's deployment controller makes a ReplicaSet owned by the Deployment ...
    replica_sets = eventually(
        lambda: apps.list_namespaced_replica_set(namespace, label_selector="app=web").items,
        what="a ReplicaSet for the Deployment",
    )
    assert replica_sets[0].metadata.owner_references[0].kind == "Deployment"

    # ... whose replicaset controller makes Pods, which kube-scheduler binds to kwok nodes.
    def running_pods() -> list[client.V1Pod]:
        pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
        running = [p for p in pods if p.status.phase == "Running" and p.spec.node_name]
        return running if len(running) == 3 else []

    pods = eventually(running_pods, timeout=60, what="3 running pods")
    nodes = {node.metadata.name for node in core.list_node().items}
    assert {pod.spec.node_name for pod in pods} <= nodes
    assert all(pod.metadata.owner_references[0].kind == "ReplicaSet" for pod in pods)
    assert all(pod.status.pod_ip for pod in pods)

    deployment = eventually(
        lambda: (
            (d := apps.read_namespaced_deployment("web", namespace)).status.ready_replicas == 3
            and d
        ),
        timeout=60,
        what="the Deployment to report 3 ready replicas",
    )
    assert deployment.status.available_replicas == 3
