"""The members' StatefulSet: the engine's database container and the health sidecar that reports
into the pod's readiness gate `runestone.dev/member-ready`, with the volumes both mount.

Updates use `OnDelete`: the operator restarts members one at a time, each only after the one
before is back in the cluster with its gate True (`plan.next_restart`). Claims are kept on
scale-down and delete, so a member's data outlives its pod."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import meta, quantities
from runestone_operator.core import names as core_names
from runestone_operator.core.builders import pods
from runestone_operator.vectorcluster import engine, model, names
from runestone_operator.vectorcluster.builders.cluster import Cluster

PROBE_PERIOD_SECONDS = 2


@dataclass(frozen=True)
class Inputs:
    cluster: Cluster
    engine: engine.Engine
    spec: model.VectorClusterSpec
    replicas: int
    """What the StatefulSet asks for now (the current count while a scale-down is refused)."""
    sidecar_image: str
    tls_secret: str | None
    """The kubernetes.io/tls Secret the members serve clients with, or None for plain HTTP."""
    config_hash: str
    restart_token: str | None = None
    backup_claim: str | None = None
    """The claim mounted for filesystem backups."""
    claim_templates: Sequence[dict[str, Any]] | None = None
    """An existing StatefulSet's volumeClaimTemplates (immutable once created)."""
    gateway_users: tuple[str, ...] = ()
    """The engine's users of the Gateways that reference the cluster."""


def resources(inputs: Inputs) -> dict[str, Any]:
    """The spec's resources, else the engine's default (which has a memory limit)."""
    if inputs.spec.resources is not None:
        return inputs.spec.resources.model_dump(mode="json", exclude_none=True)
    return copy.deepcopy(dict(inputs.engine.default_resources))


def member(inputs: Inputs) -> engine.Member:
    cluster = inputs.cluster
    chosen = resources(inputs)
    limit = (chosen.get("limits") or {}).get("memory")
    return engine.Member(
        cluster=cluster.name,
        namespace=cluster.namespace,
        spec=inputs.spec,
        replicas=inputs.replicas,
        credentials_secret=names.credentials_secret(cluster.name, inputs.engine.name),
        tls=inputs.tls_secret is not None,
        backup_volume=inputs.backup_claim is not None,
        resources=chosen,
        memory_limit_bytes=quantities.value(limit) if limit is not None else None,
        gateway_users=inputs.gateway_users,
        runestone_image=inputs.sidecar_image,
    )


def sidecar_container(inputs: Inputs, built: engine.Member) -> dict[str, Any]:
    probe_key = f"{names.PROBE_KEY_DIR}/{core_names.API_KEY_DATA_KEY}"
    probe = [
        "--target",
        "member",
        *inputs.engine.probe(probe_key),
        "--period",
        str(PROBE_PERIOD_SECONDS),
    ]
    mounts = [pods.mount("probe-key", names.PROBE_KEY_DIR, read_only=True)]
    return pods.sidecar_container(
        inputs.sidecar_image,
        probe,
        names.MEMBER_READY_GATE,
        mounts,
        beside_guaranteed=pods.guaranteed(built.resources),
        resources=inputs.spec.sidecar.resources,
    )


def _volumes(inputs: Inputs) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": names.TMP_VOLUME, "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": names.TOOLS_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}},
        {
            "name": "probe-key",
            "secret": {
                "secretName": names.probe_key_secret(inputs.cluster.name),
                "defaultMode": 0o440,
            },
        },
        pods.api_access_volume(),
    ]
    if inputs.tls_secret is not None:
        volumes.append(
            {
                "name": names.TLS_VOLUME,
                "secret": {
                    "secretName": inputs.tls_secret,
                    "items": [
                        {"key": "tls.crt", "path": "tls.crt"},
                        {"key": "tls.key", "path": "tls.key"},
                    ],
                    "defaultMode": 0o440,
                },
            }
        )
    if inputs.backup_claim is not None:
        volumes.append(
            {
                "name": names.BACKUP_VOLUME,
                "persistentVolumeClaim": {"claimName": inputs.backup_claim},
            }
        )
    return volumes


def _init_containers(inputs: Inputs, built: engine.Member) -> dict[str, Any]:
    """The engine's init containers, if it has any (an empty list is not written)."""
    found = inputs.engine.init_containers(built)
    return {"initContainers": found} if found else {}


def claim_template(spec: model.VectorClusterSpec) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage.size}},
    }
    if spec.storage.storage_class_name:
        claim["storageClassName"] = spec.storage.storage_class_name
    return {"metadata": {"name": names.DATA_VOLUME}, "spec": claim}


def template_annotations(inputs: Inputs) -> dict[str, str]:
    annotations = {names.CONFIG_HASH: inputs.config_hash}
    if inputs.restart_token:
        annotations[names.RESTARTED_FOR] = inputs.restart_token
    return annotations


def statefulset(inputs: Inputs) -> meta.Manifest:
    cluster = inputs.cluster
    selector = cluster.selector()
    built = member(inputs)
    # Claim templates cannot change once the StatefulSet exists: keep what it was created with.
    templates = (
        [{k: v for k, v in t.items() if k != "status"} for t in inputs.claim_templates]
        if inputs.claim_templates
        else [claim_template(inputs.spec)]
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": cluster.object_meta(names.statefulset(cluster.name)),
        "spec": {
            "replicas": inputs.replicas,
            "serviceName": names.headless_service(cluster.name),
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "OnDelete"},
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
            "template": {
                "metadata": {
                    "labels": cluster.labels(),
                    "annotations": template_annotations(inputs),
                },
                "spec": {
                    "serviceAccountName": names.service_account(cluster.name),
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "readinessGates": [{"conditionType": names.MEMBER_READY_GATE}],
                    "terminationGracePeriodSeconds": inputs.engine.grace_seconds,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": pods.RUN_AS,
                        "runAsGroup": pods.RUN_AS,
                        "fsGroup": pods.RUN_AS,
                        "fsGroupChangePolicy": "OnRootMismatch",
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "topologySpreadConstraints": pods.spread(selector),
                    **pods.placement(inputs.spec.scheduling),
                    **_init_containers(inputs, built),
                    "containers": [
                        inputs.engine.container(built),
                        sidecar_container(inputs, built),
                    ],
                    "volumes": _volumes(inputs),
                },
            },
            "volumeClaimTemplates": templates,
        },
    }
