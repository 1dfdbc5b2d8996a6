"""Pieces of every pod the operator runs: the non-root security settings, the API credentials
projected into the health sidecar only, and the sidecar container itself, which probes the pod's
workload and reports into the pod's readiness gate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runestone_operator.core import models, names, quantities

RUN_AS = 65532
"""The non-root user and group of the Runestone image."""
SIDECAR_CONTAINER = "sidecar"
SIDECAR_RESOURCES: dict[str, dict[str, str | int]] = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"memory": "64Mi"},
}
HELPER_GUARANTEED_RESOURCES: dict[str, dict[str, str | int]] = {
    "requests": {"cpu": "100m", "memory": "64Mi"},
    "limits": {"cpu": "100m", "memory": "64Mi"},
}
"""A helper container's (the sidecar, an init container) beside a workload whose resources are
Guaranteed: a pod is Guaranteed only when every container is, init containers included, and only
then does a node with the static CPU manager policy give a container asking for whole CPUs cores
of its own. Under the CPU limit the sidecar's start-up (importing it, some 0.2 s of CPU) takes
about 2 s; at idle it uses well under 1 % of it."""
GUARANTEED_RESOURCES = ("cpu", "memory")
SIDECAR_LIVENESS: dict[str, Any] = {
    "httpGet": {"path": "/healthz", "port": "sidecar"},
    "periodSeconds": 10,
    "timeoutSeconds": 3,
    "failureThreshold": 3,
}
"""The sidecar's /healthz fails once its probe loop has not completed a probe for three probe
periods plus two timeouts (at least 10 s), and does not answer at all when the process hangs:
either way the kubelet restarts the sidecar, instead of the readiness gate staying as the hung
sidecar last wrote it."""
TOKEN_EXPIRATION_SECONDS = 3607
API_ACCESS_VOLUME = "kube-api-access"

CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def mount(name: str, path: str, *, read_only: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "mountPath": path}
    if read_only:
        entry["readOnly"] = True
    return entry


def field_env(name: str, path: str) -> dict[str, Any]:
    """An environment variable from the downward API."""
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def spread(selector: Mapping[str, str]) -> list[dict[str, Any]]:
    """Spread the selected pods over nodes, as far as the scheduler can."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
    ]


def placement(scheduling: models.Scheduling) -> dict[str, Any]:
    """The pod spec's `nodeSelector` and `tolerations` from the spec's `scheduling`, each only
    when set (so an unset one leaves no empty field in the pod template)."""
    placed: dict[str, Any] = {}
    if scheduling.node_selector:
        placed["nodeSelector"] = dict(scheduling.node_selector)
    if scheduling.tolerations:
        placed["tolerations"] = [
            toleration.model_dump(mode="json", by_alias=True, exclude_none=True)
            for toleration in scheduling.tolerations
        ]
    return placed


def api_access_volume() -> dict[str, Any]:
    """The API token, CA and namespace, as the kubelet would automount them, but projected only
    into the sidecar: the workload's own container never holds an API credential."""
    return {
        "name": API_ACCESS_VOLUME,
        "projected": {
            "sources": [
                {
                    "serviceAccountToken": {
                        "path": "token",
                        "expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                    }
                },
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ]
        },
    }


def guaranteed(resources: Mapping[str, Any]) -> bool:
    """Whether a container with `resources` counts as Guaranteed in Kubernetes' QoS classes: a
    limit on CPU and on memory, and each request, where one is given, equal to its limit (an
    unset request defaults to the limit)."""
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    for name in GUARANTEED_RESOURCES:
        limit = limits.get(name)
        if limit is None:
            return False
        request = requests.get(name)
        if request is not None and quantities.exact(request) != quantities.exact(limit):
            return False
    return True


def sidecar_container(
    image: str,
    probe: Sequence[str],
    condition: str,
    mounts: Sequence[Mapping[str, Any]] = (),
    *,
    beside_guaranteed: bool = False,
    resources: models.Resources | None = None,
) -> dict[str, Any]:
    """`runestone sidecar` with the probe arguments `probe` (which target, where it is), setting
    the readiness-gate condition `condition`; `mounts` are mounted besides the API access and
    a writable /tmp. `resources`: the spec's `sidecar.resources`, used as given; unset, the
    defaults, made Guaranteed when `beside_guaranteed` (the workload's resources are) so that
    the pod is."""
    if resources is not None:
        chosen: Mapping[str, Any] = resources.model_dump(mode="json", exclude_none=True)
    else:
        chosen = HELPER_GUARANTEED_RESOURCES if beside_guaranteed else SIDECAR_RESOURCES
    return {
        "name": SIDECAR_CONTAINER,
        "image": image,
        "command": ["runestone"],
        "args": [
            "sidecar",
            *probe,
            "--condition",
            condition,
            "--port",
            str(names.SIDECAR_PORT),
            "--grpc-port",
            str(names.SIDECAR_GRPC_PORT),
        ],
        "env": [
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
        ],
        "ports": [
            {"name": "sidecar", "containerPort": names.SIDECAR_PORT, "protocol": "TCP"},
            {"name": "sidecar-grpc", "containerPort": names.SIDECAR_GRPC_PORT, "protocol": "TCP"},
        ],
        "livenessProbe": SIDECAR_LIVENESS,
        "resources": dict(chosen),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            mount(API_ACCESS_VOLUME, names.SERVICE_ACCOUNT_DIR, read_only=True),
            *(dict(entry) for entry in mounts),
            mount("tmp", "/tmp", read_only=False),  # noqa: S108 - an emptyDir, not shared
        ],
    }
