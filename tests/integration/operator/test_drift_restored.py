"""Drift made by hand is corrected by the periodic reconcile: a deleted Service comes back, an
edited Deployment image and ConfigMap are put back."""

from __future__ import annotations

from kubernetes import client

from devcluster import operator_process
from devcluster.kube import eventually
from integration.operator import objects


def test_deleted_and_edited_children_are_restored(
    kube_api: client.ApiClient, namespace: str
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(kube_api, namespace, objects.gateway("drift"))
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    service = eventually(
        lambda: core.read_namespaced_service("drift", namespace), timeout=60, what="the Service"
    )
    deployment = eventually(
        lambda: apps.read_namespaced_deployment("drift", namespace), what="the Deployment"
    )
    config_map = core.read_namespaced_config_map("drift-config", namespace)

    core.delete_namespaced_service("drift", namespace)

    def recreated() -> client.V1Service:
        current = core.read_namespaced_service("drift", namespace)
        assert current.metadata.uid != service.metadata.uid
        return current

    restored = eventually(recreated, timeout=60, what="the deleted Service to be recreated")
    assert restored.spec.ports[0].port == 443

    apps.patch_namespaced_deployment(
        "drift",
        namespace,
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "gateway", "image": "evil.example/x:1"}]}
                }
            }
        },
    )
    eventually(
        lambda: (
            apps.read_namespaced_deployment("drift", namespace)
            .spec.template.spec.containers[0]
            .image
            == operator_process.TEST_IMAGE
        ),
        timeout=60,
        what="the Deployment image to be restored",
    )
    assert (
        apps.read_namespaced_deployment("drift", namespace).metadata.uid == deployment.metadata.uid
    )

    core.patch_namespaced_config_map("drift-config", namespace, {"data": {"config.yaml": "{}"}})
    eventually(
        lambda: core.read_namespaced_config_map("drift-config", namespace).data == config_map.data,
        timeout=60,
        what="the ConfigMap content to be restored",
    )
