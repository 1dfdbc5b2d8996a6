"""The gateway Deployment: the gateway container, the health sidecar that reports into the pod's
readiness gate, and every file the gateway reads mounted from ConfigMaps and Secrets.

Config and key changes reach running pods through their mounted files (the gateway re-reads them),
so nothing in the pod template depends on their content: no checksum annotations, no restarts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator import names
from runestone_operator.builders import config as config_builder
from runestone_operator.builders import meta
from runestone_operator.models import gateway

RUN_AS = 65532
"""The non-root user and group of the Runestone image."""

DEFAULT_GATEWAY_RESOURCES: dict[str, dict[str, str | int]] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"memory": "512Mi"},
}
SIDECAR_RESOURCES: dict[str, dict[str, str | int]] = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"memory": "64Mi"},
}
GRACEFUL_SHUTDOWN_SECONDS = 30
TOKEN_EXPIRATION_SECONDS = 3607


@dataclass(frozen=True)
class Inputs:
    owner: meta.Owner
    spec: gateway.GatewaySpec
    image: str
    tls_secret: str | None
    """The kubernetes.io/tls Secret to mount, or None for plain HTTP."""
    secret_mounts: Sequence[config_builder.SecretMount]
    """Provider credentials and the Redis URL: one Secret key each, mounted read-only."""


CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def _resources(spec: gateway.GatewaySpec) -> dict[str, Any]:
    if spec.resources is None:
        return DEFAULT_GATEWAY_RESOURCES
    return spec.resources.model_dump(mode="json", exclude_none=True)


def _mount(name: str, path: str, read_only: bool = True) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": name, "mountPath": path}
    if read_only:
        mount["readOnly"] = True
    return mount


def _gateway_container(inputs: Inputs) -> dict[str, Any]:
    mounts = [
        _mount("config", names.CONFIG_DIR),
        _mount("keys", names.KEYS_DIR),
    ]
    if inputs.tls_secret is not None:
        mounts.append(_mount("tls", names.TLS_DIR))
    mounts += [_mount(secret.volume, secret.directory) for secret in inputs.secret_mounts]
    mounts.append(_mount("tmp", "/tmp", read_only=False))  # noqa: S108 - an emptyDir, not shared
    return {
        "name": "gateway",
        "image": inputs.image,
        "command": ["runestone"],
        "args": [
            "gateway",
            "--config",
            f"{names.CONFIG_DIR}/{names.CONFIG_FILE}",
            "--port",
            str(names.API_PORT),
            "--health-port",
            str(names.HEALTH_PORT),
        ],
        "ports": [
            {"name": "api", "containerPort": names.API_PORT, "protocol": "TCP"},
            {"name": "health", "containerPort": names.HEALTH_PORT, "protocol": "TCP"},
        ],
        "livenessProbe": {
            "httpGet": {"path": "/livez", "port": "health"},
            "periodSeconds": 10,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
        "resources": _resources(inputs.spec),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": mounts,
    }


def _sidecar_container(inputs: Inputs) -> dict[str, Any]:
    return {
        "name": "sidecar",
        "image": inputs.image,
        "command": ["runestone"],
        "args": [
            "sidecar",
            "--target",
            "gateway",
            "--url",
            f"http://127.0.0.1:{names.HEALTH_PORT}/readyz",
            "--condition",
            names.GATEWAY_READY_GATE,
            "--port",
            str(names.SIDECAR_PORT),
            "--grpc-port",
            str(names.SIDECAR_GRPC_PORT),
        ],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
        ],
        "ports": [
            {"name": "sidecar", "containerPort": names.SIDECAR_PORT, "protocol": "TCP"},
            {"name": "sidecar-grpc", "containerPort": names.SIDECAR_GRPC_PORT, "protocol": "TCP"},
        ],
        "resources": SIDECAR_RESOURCES,
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            _mount("kube-api-access", names.SERVICE_ACCOUNT_DIR),
            _mount("tmp", "/tmp", read_only=False),  # noqa: S108 - an emptyDir, not shared
        ],
    }


def _api_access_volume() -> dict[str, Any]:
    """The API token, CA and namespace, as the kubelet would automount them, but projected only
    into the sidecar: the gateway container never holds an API credential."""
    return {
        "name": "kube-api-access",
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


def _volumes(inputs: Inputs) -> list[dict[str, Any]]:
    name = inputs.owner.name
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": names.config_map(name)}},
        {"name": "keys", "secret": {"secretName": names.key_table_secret(name)}},
    ]
    if inputs.tls_secret is not None:
        volumes.append({"name": "tls", "secret": {"secretName": inputs.tls_secret}})
    for secret in inputs.secret_mounts:
        volumes.append(
            {
                "name": secret.volume,
                "secret": {
                    "secretName": secret.secret_name,
                    "items": [{"key": secret.key, "path": secret.key}],
                },
            }
        )
    volumes.append({"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}})
    volumes.append(_api_access_volume())
    return volumes


def deployment(inputs: Inputs) -> meta.Manifest:
    owner, spec = inputs.owner, inputs.spec
    selector = names.gateway_selector(owner.name)
    deployment_spec: dict[str, Any] = {}
    if spec.autoscaling is None:
        deployment_spec["replicas"] = spec.replicas  # otherwise the HPA owns the count
    deployment_spec |= {
        "selector": {"matchLabels": selector},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": {"labels": names.gateway_labels(owner.name)},
            "spec": {
                "serviceAccountName": names.gateway_service_account(owner.name),
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "readinessGates": [{"conditionType": names.GATEWAY_READY_GATE}],
                "terminationGracePeriodSeconds": GRACEFUL_SHUTDOWN_SECONDS + 15,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": RUN_AS,
                    "runAsGroup": RUN_AS,
                    "fsGroup": RUN_AS,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": selector},
                    }
                ],
                "containers": [_gateway_container(inputs), _sidecar_container(inputs)],
                "volumes": _volumes(inputs),
            },
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta.object_meta(owner, owner.name),
        "spec": deployment_spec,
    }
