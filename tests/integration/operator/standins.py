"""The APIs of other projects' operators that Runestone writes to, as stand-in CRDs (the API
only, no controller): cert-manager's Certificate and the Prometheus Operator's ServiceMonitor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects

CERTIFICATE_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "certificates.cert-manager.io"},
    "spec": {
        "group": "cert-manager.io",
        "scope": "Namespaced",
        "names": {"plural": "certificates", "singular": "certificate", "kind": "Certificate"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}

# The ServiceMonitor API as the Prometheus Operator documents it, reduced to the fields the
# operator writes (its CRD is not ours to copy): strict, so a misspelt field is refused.
_STRING: dict[str, Any] = {"type": "string"}
_LABELS: dict[str, Any] = {"type": "object", "additionalProperties": _STRING}
SERVICE_MONITOR_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {
            "plural": "servicemonitors",
            "singular": "servicemonitor",
            "kind": "ServiceMonitor",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["selector", "endpoints"],
                                "properties": {
                                    "selector": {
                                        "type": "object",
                                        "properties": {"matchLabels": _LABELS},
                                    },
                                    "endpoints": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "port": _STRING,
                                                "path": _STRING,
                                                "interval": _STRING,
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


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
