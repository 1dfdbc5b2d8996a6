"""CRDs behave as on a real cluster: CEL validation, the status subresource, garbage collection."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster.kube import eventually

GROUP = "probe.runestone.dev"


@pytest.fixture
def widget_crd(kube_api: client.ApiClient) -> Iterator[str]:
    """A throwaway CRD with a CEL rule and a status subresource; its plural is returned."""
    extensions = client.ApiextensionsV1Api(kube_api)
    plural = f"widgets{uuid.uuid4().hex[:6]}"
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["replicas"],
                "properties": {"replicas": {"type": "integer", "minimum": 1}},
                "x-kubernetes-validations": [
                    {"rule": "self.replicas in [1, 3, 5]", "message": "replicas must be 1, 3 or 5"}
                ],
            },
            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
        },
    }
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": plural.capitalize()[:-1]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                }
            ],
        },
    }
    extensions.create_custom_resource_definition(crd)

    def established() -> bool:
        conditions = (
            extensions.read_custom_resource_definition(f"{plural}.{GROUP}").status.conditions or []
        )
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    eventually(established, what="the CRD to be established")
    try:
        yield plural
    finally:
        extensions.delete_custom_resource_definition(f"{plural}.{GROUP}")


def _widget(plural: str, name: str, replicas: int) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": plural.capitalize()[:-1],
        "metadata": {"name": name},
        "spec": {"replicas": replicas},
    }


def test_cel_rule_rejects_with_its_message_and_accepts_a_valid_object(
    kube_api: client.ApiClient, namespace: str, widget_crd: str
) -> None:
    custom = client.CustomObjectsApi(kube_api)
    with pytest.raises(ApiException) as rejected:
        custom.create_namespaced_custom_object(
            GROUP, "v1", namespace, widget_crd, _widget(widget_crd, "bad", 2)
        )
    assert rejected.value.status == 422
    assert "replicas must be 1, 3 or 5" in rejected.value.body

    created = eventually(
        lambda: custom.create_namespaced_custom_object(
            GROUP, "v1", namespace, widget_crd, _widget(widget_crd, "good", 3)
        ),
        what="the valid object to be accepted",
    )
    assert created["spec"]["replicas"] == 3


def test_status_is_a_subresource(
    kube_api: client.ApiClient, namespace: str, widget_crd: str
) -> None:
    custom = client.CustomObjectsApi(kube_api)
    eventually(
        lambda: custom.create_namespaced_custom_object(
            GROUP, "v1", namespace, widget_crd, _widget(widget_crd, "w", 1)
        ),
        what="the object to be created",
    )
    # Status written through the main resource is ignored ...
    body = {"spec": {"replicas": 3}, "status": {"phase": "Ignored"}}
    updated = custom.patch_namespaced_custom_object(GROUP, "v1", namespace, widget_crd, "w", body)
    assert updated["spec"]["replicas"] == 3
    assert "status" not in updated or updated["status"].get("phase") != "Ignored"
    # ... and accepted through /status, which leaves the spec alone.
    status = {"status": {"phase": "Ready"}, "spec": {"replicas": 5}}
    updated = custom.patch_namespaced_custom_object_status(
        GROUP, "v1", namespace, widget_crd, "w", status
    )
    assert updated["status"]["phase"] == "Ready"
    assert updated["spec"]["replicas"] == 3


def test_deleting_an_owner_garbage_collects_what_it_owns(
    kube_api: client.ApiClient, namespace: str, widget_crd: str
) -> None:
    custom, core = client.CustomObjectsApi(kube_api), client.CoreV1Api(kube_api)
    owner = eventually(
        lambda: custom.create_namespaced_custom_object(
            GROUP, "v1", namespace, widget_crd, _widget(widget_crd, "o", 1)
        ),
        what="the owner to be created",
    )
    reference = client.V1OwnerReference(
        api_version=f"{GROUP}/v1",
        kind=owner["kind"],
        name="o",
        uid=owner["metadata"]["uid"],
        controller=True,
        block_owner_deletion=True,
    )
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="owned", owner_references=[reference]),
            data={"k": "v"},
        ),
    )
    custom.delete_namespaced_custom_object(GROUP, "v1", namespace, widget_crd, "o")

    def gone() -> bool:
        try:
            core.read_namespaced_config_map("owned", namespace)
        except ApiException as error:
            return bool(error.status == 404)
        return False

    eventually(
        gone, timeout=60, what="kube-controller-manager's garbage collector to delete the ConfigMap"
    )
