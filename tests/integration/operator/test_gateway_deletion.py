"""Deleting a Gateway garbage-collects every child, the plaintext key Secrets included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects


def test_children_and_key_secrets_are_garbage_collected(
    kube_api: client.ApiClient, namespace: str
) -> None:
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    rbac, policy = client.RbacAuthorizationV1Api(kube_api), client.PolicyV1Api(kube_api)
    autoscaling = client.AutoscalingV2Api(kube_api)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(
        kube_api,
        namespace,
        objects.gateway(
            "doomed",
            apiKeys=[{"name": "one"}, {"name": "two"}],
            autoscaling={"minReplicas": 2, "maxReplicas": 3},
        ),
    )
    children: list[tuple[Callable[..., Any], str]] = [
        (apps.read_namespaced_deployment, "doomed"),
        (core.read_namespaced_service, "doomed"),
        (core.read_namespaced_config_map, "doomed-config"),
        (core.read_namespaced_secret, "doomed-keytable"),
        (core.read_namespaced_secret, "doomed-key-one"),
        (core.read_namespaced_secret, "doomed-key-two"),
        (core.read_namespaced_secret, "doomed-tls"),
        (core.read_namespaced_secret, "doomed-ca"),
        (core.read_namespaced_secret, "doomed-ca-key"),
        (core.read_namespaced_service_account, "runestone-gateway-doomed"),
        (rbac.read_namespaced_role, "runestone-gateway-doomed"),
        (rbac.read_namespaced_role_binding, "runestone-gateway-doomed"),
        (autoscaling.read_namespaced_horizontal_pod_autoscaler, "doomed"),
        (policy.read_namespaced_pod_disruption_budget, "doomed"),
    ]
    eventually(
        lambda: all(objects.exists(read, name, namespace) for read, name in children),
        timeout=60,
        what="every child to exist",
    )

    objects.custom(kube_api).delete_namespaced_custom_object(
        "runestone.dev", "v1alpha1", namespace, "gateways", "doomed"
    )

    def remaining() -> bool:
        left = [name for read, name in children if objects.exists(read, name, namespace)]
        assert not left, f"still there: {left}"
        return True

    eventually(
        remaining, timeout=120, interval=1, what="the garbage collector to delete every child"
    )
    keys = core.list_namespaced_secret(namespace, label_selector="runestone.dev/api-key").items
    assert keys == []
    # The pool is not a child: it stays for other Gateways.
    assert objects.read(kube_api, namespace, "providerpools", "mock")
