"""Runestone's custom resources on a cluster: the CRDs installed as `kubectl apply` would, and
ProviderPools and Gateways created through the API (used by the tests and the benchmarks)."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster.kube import eventually

GROUP, VERSION = "runestone.dev", "v1alpha1"

MOCK_MODELS = [
    {"name": "mock-chat", "kinds": ["chat", "completion"]},
    {"name": "mock-embedding", "kinds": ["embedding"]},
]


def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def mock_pool(name: str, models: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ProviderPool",
        "metadata": {"name": name},
        "spec": {"providers": [{"name": "mock", "type": "mock", "models": models or MOCK_MODELS}]},
    }


def gateway(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"providerPools": [{"name": "mock"}], "replicas": 1}
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gateway",
        "metadata": {"name": name},
        "spec": body,
    }


def create(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    plural = {
        "Gateway": "gateways",
        "ProviderPool": "providerpools",
        "VectorCluster": "vectorclusters",
    }[body["kind"]]
    created: dict[str, Any] = custom(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, body
    )
    return created


def install_crd(extensions: client.ApiextensionsV1Api, document: dict[str, Any]) -> str:
    """Create or replace one CRD and wait until it is established; return its name."""
    name = str(document["metadata"]["name"])
    try:
        extensions.create_custom_resource_definition(document)
    except ApiException as error:
        if error.status != 409:
            raise
        current = extensions.read_custom_resource_definition(name)
        document["metadata"]["resourceVersion"] = current.metadata.resource_version
        extensions.replace_custom_resource_definition(name, document)

    def established() -> bool:
        conditions = extensions.read_custom_resource_definition(name).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    eventually(established, what=f"CRD {name} to be established")
    return name
