"""The gateway Deployment: the gateway container, the health sidecar that reports into the pod's
readiness gate, and every file the gateway reads mounted from ConfigMaps and Secrets.

Config and key changes reach running pods through their mounted files (the gateway re-reads them),
so nothing in the pod template depends on their content: no checksum annotations, no restarts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import meta
from runestone_operator.core.builders import pods
from runestone_operator.gateway import model, names
from runestone_operator.gateway.builders import config as config_builder

DEFAULT_GATEWAY_RESOURCES: dict[str, dict[str, str | int]] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"memory": "512Mi"},
}
GRACEFUL_SHUTDOWN_SECONDS = 30


@dataclass(frozen=True)
class Inputs:
    owner: meta.Owner
    spec: model.GatewaySpec
    image: str
    tls_secret: str | None
    """The kubernetes.io/tls Secret to mount, or None for plain HTTP."""
    secret_mounts: Sequence[config_builder.SecretMount]
    """Provider credentials and the Redis URL: one Secret key each, mounted read-only."""


def _resources(spec: model.GatewaySpec) -> dict[str, Any]:
    if spec.resources is None:
        return DEFAULT_GATEWAY_RESOURCES
    return spec.resources.model_dump(mode="json", exclude_none=True)


def _mount(name: str, path: str) -> dict[str, Any]:
    return pods.mount(name, path, read_only=True)


def _gateway_container(inputs: Inputs, resources: dict[str, Any]) -> dict[str, Any]:
    mounts = [
        _mount("config", names.CONFIG_DIR),
        _mount("keys", names.KEYS_DIR),
    ]
    if inputs.tls_secret is not None:
        mounts.append(_mount("tls", names.TLS_DIR))
    mounts += [_mount(secret.volume, secret.directory) for secret in inputs.secret_mounts]
    mounts.append(pods.mount("tmp", "/tmp", read_only=False))  # noqa: S108 - an emptyDir, not shared
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
        "resources": resources,
        "securityContext": pods.CONTAINER_SECURITY,
        "volumeMounts": mounts,
    }


def _sidecar_container(inputs: Inputs, gateway_resources: dict[str, Any]) -> dict[str, Any]:
    probe = ["--target", "gateway", "--url", f"http://127.0.0.1:{names.HEALTH_PORT}/readyz"]
    # A gateway asking for Guaranteed resources gets a Guaranteed pod (and, asking for whole
    # CPUs on a node with the static CPU manager policy, cores of its own).
    beside = pods.guaranteed(gateway_resources)
    return pods.sidecar_container(
        inputs.image,
        probe,
        names.GATEWAY_READY_GATE,
        beside_guaranteed=beside,
        resources=inputs.spec.sidecar.resources,
    )


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
                    **({"optional": True} if secret.optional else {}),
                },
            }
        )
    volumes.append({"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}})
    volumes.append(pods.api_access_volume())
    return volumes


def deployment(inputs: Inputs) -> meta.Manifest:
    owner, spec = inputs.owner, inputs.spec
    selector = names.gateway_selector(owner.name)
    resources = _resources(spec)
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
                    "runAsUser": pods.RUN_AS,
                    "runAsGroup": pods.RUN_AS,
                    "fsGroup": pods.RUN_AS,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "topologySpreadConstraints": pods.spread(selector),
                **pods.placement(spec.scheduling),
                "containers": [
                    _gateway_container(inputs, resources),
                    _sidecar_container(inputs, resources),
                ],
                "volumes": _volumes(inputs),
            },
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta.object_meta(owner, owner.name, names.gateway_labels(owner.name)),
        "spec": deployment_spec,
    }
