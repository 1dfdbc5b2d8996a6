"""What deleting a Gateway leaves behind. With `deletionPolicy: Delete` nothing: the garbage
collector takes every child, the plaintext key Secrets and the CA included. With `Retain` (the
default) the API keys and the CA stay, without an owner, and a Gateway re-created under the same
name adopts them: a real gateway, called with the key and the CA bundle a client read before the
delete, answers again after the re-creation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client

from devcluster import install
from devcluster.kube import eventually
from integration.operator import objects
from runestone_operator.gateway import names


def _children(kube_api: client.ApiClient, name: str) -> dict[str, tuple[Callable[..., Any], str]]:
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    rbac, policy = client.RbacAuthorizationV1Api(kube_api), client.PolicyV1Api(kube_api)
    autoscaling = client.AutoscalingV2Api(kube_api)
    account = names.gateway_service_account(name)
    return {
        "deployment": (apps.read_namespaced_deployment, name),
        "service": (core.read_namespaced_service, name),
        "config": (core.read_namespaced_config_map, names.config_map(name)),
        "keytable": (core.read_namespaced_secret, names.key_table_secret(name)),
        "key-one": (core.read_namespaced_secret, names.key_secret(name, "one")),
        "key-two": (core.read_namespaced_secret, names.key_secret(name, "two")),
        "tls": (core.read_namespaced_secret, names.tls_secret(name)),
        "ca": (core.read_namespaced_secret, names.ca_secret(name)),
        "ca-key": (core.read_namespaced_secret, names.ca_key_secret(name)),
        "serviceaccount": (core.read_namespaced_service_account, account),
        "role": (rbac.read_namespaced_role, account),
        "rolebinding": (rbac.read_namespaced_role_binding, account),
        "hpa": (autoscaling.read_namespaced_horizontal_pod_autoscaler, name),
        "pdb": (policy.read_namespaced_pod_disruption_budget, name),
    }


RETAINED = ("key-one", "key-two", "ca", "ca-key")


def _delete(kube_api: client.ApiClient, namespace: str, name: str) -> None:
    objects.custom(kube_api).delete_namespaced_custom_object(
        "runestone.dev", "v1alpha1", namespace, "gateways", name
    )


def _left(
    children: dict[str, tuple[Callable[..., Any], str]], namespace: str, expected: set[str]
) -> bool:
    """True once exactly `expected` of the children are left."""
    left = {
        what for what, (read, name) in children.items() if objects.exists(read, name, namespace)
    }
    assert left == expected, f"left: {sorted(left)}"
    return True


def test_with_deletion_policy_delete_every_child_goes(
    kube_api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(
        kube_api,
        namespace,
        objects.gateway(
            "doomed",
            apiKeys=[{"name": "one"}, {"name": "two"}],
            autoscaling={"minReplicas": 2, "maxReplicas": 3},
            deletionPolicy="Delete",
        ),
    )
    children = _children(kube_api, "doomed")
    eventually(
        lambda: _left(children, namespace, set(children)), timeout=60, what="every child to exist"
    )

    _delete(kube_api, namespace, "doomed")
    eventually(
        lambda: _left(children, namespace, set()),
        timeout=120,
        interval=1,
        what="the garbage collector to delete every child",
    )
    keys = core.list_namespaced_secret(namespace, label_selector="runestone.dev/api-key").items
    assert keys == []
    # The pool is not a child: it stays for other Gateways.
    assert objects.read(kube_api, namespace, "providerpools", "mock")


def test_by_default_keys_and_ca_outlive_the_gateway_for_a_recreated_one_to_adopt(
    kube_api: client.ApiClient, pod_namespace: str, tmp_path: Path
) -> None:
    namespace, core = pod_namespace, client.CoreV1Api(kube_api)
    spec = {"apiKeys": [{"name": "one"}, {"name": "two"}]}
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(kube_api, namespace, objects.gateway("kept", **spec))
    objects.wait_condition(
        kube_api, namespace, "gateways", "kept", "Ready", "True", timeout=180, what="Ready"
    )
    (tmp_path / "before").mkdir()
    before = install.gateway_endpoint(kube_api, namespace, tmp_path / "before", "kept", "one")
    assert before.ca_file is not None
    _chat(before, "before")
    # One replica, no autoscaling: no disruption budget and no autoscaler to look for.
    children = {k: v for k, v in _children(kube_api, "kept").items() if k not in ("hpa", "pdb")}
    for what in RETAINED:
        read, name = children[what]
        assert not read(name, namespace).metadata.owner_references, f"{name} has an owner"
    keys = {name: objects.secret_text(kube_api, namespace, name, "api-key") for name in KEYS}

    _delete(kube_api, namespace, "kept")
    eventually(
        lambda: _left(children, namespace, set(RETAINED)),
        timeout=120,
        interval=1,
        what="the garbage collector to delete all but the keys and the CA",
    )
    eventually(
        lambda: not install.gateway_pods(kube_api, namespace, "kept"), timeout=120, what="no pod"
    )

    objects.create(kube_api, namespace, objects.gateway("kept", **spec))
    recreated = objects.wait_condition(
        kube_api, namespace, "gateways", "kept", "Ready", "True", timeout=180, what="Ready again"
    )
    assert [key["name"] for key in recreated["status"]["apiKeys"]] == ["one", "two"]
    assert {name: objects.secret_text(kube_api, namespace, name, "api-key") for name in KEYS} == (
        keys
    )
    # The client as it was: the same key and the CA bundle it read before; only the pod is new.
    (tmp_path / "after").mkdir()
    after = install.gateway_endpoint(kube_api, namespace, tmp_path / "after", "kept", "one")
    assert after.api_key == before.api_key
    _chat(dataclasses.replace(after, ca_file=before.ca_file), "after")
    # A new serving certificate (the old one went with the Gateway), from the kept CA.
    assert core.read_namespaced_secret(
        names.tls_secret("kept"), namespace
    ).metadata.owner_references


KEYS = [names.key_secret("kept", "one"), names.key_secret("kept", "two")]


def _chat(endpoint: install.Endpoint, text: str) -> None:
    answer = endpoint.openai_client().chat.completions.create(
        model="mock-chat", messages=[{"role": "user", "content": text}]
    )
    assert answer.choices[0].message.content
