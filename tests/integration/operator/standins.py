"""The APIs of other projects' operators that Runestone writes to, as stand-in CRDs (the API
only, no controller): cert-manager's Certificate and the Prometheus Operator's ServiceMonitor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects


def crd(group: str, version: str, kind: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A namespaced CRD serving one version of `kind` (plural: its lower-case name plus s)."""
    singular = kind.lower()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{singular}s.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": f"{singular}s", "singular": singular, "kind": kind},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


CERTIFICATE_CRD = crd(
    "cert-manager.io",
    "v1",
    "Certificate",
    {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
)

# The ServiceMonitor API as the Prometheus Operator documents it, reduced to the fields the
# operator writes (its CRD is not ours to copy): strict, so a misspelt field is refused.
STRING: dict[str, Any] = {"type": "string"}
_LABELS: dict[str, Any] = {"type": "object", "additionalProperties": STRING}
_ENDPOINT = {"port": STRING, "path": STRING, "interval": STRING}
SERVICE_MONITOR_CRD = crd(
    "monitoring.coreos.com",
    "v1",
    "ServiceMonitor",
    {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["selector", "endpoints"],
                "properties": {
                    "selector": {"type": "object", "properties": {"matchLabels": _LABELS}},
                    "endpoints": {
                        "type": "array",
                        "items": {"type": "object", "properties": _ENDPOINT},
                    },
                },
            }
        },
    },
)


@contextmanager
def installed(api: client.ApiClient, *crds: dict[str, Any]) -> Iterator[None]:
    """The stand-in CRDs, installed for the block and gone (not just terminating) after it."""
    extensions = client.ApiextensionsV1Api(api)
    names = [objects.install_crd(extensions, crd) for crd in crds]
    try:
        yield
    finally:
        for name in names:
            extensions.delete_custom_resource_definition(name)
        for name in names:
            _wait_gone(extensions, name)


def _wait_gone(extensions: client.ApiextensionsV1Api, name: str) -> None:
    eventually(
        lambda: not objects.exists(extensions.read_custom_resource_definition, name),
        timeout=60,
        what=f"CRD {name} to go",
    )
