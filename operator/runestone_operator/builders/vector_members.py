"""The members' StatefulSet: a Weaviate container and the health sidecar that reports into the
pod's readiness gate `runestone.dev/member-ready`.

Every member is configured the same way; what differs comes from its pod name (the node name) and
from its volume. Members join through the voters' stable DNS names. Updates use `OnDelete`: the
operator restarts members one at a time, each only after the one before is back in the cluster
with its gate True (`runestone_operator.vectorplan.next_restart`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator import names, vectornames, vectorplan
from runestone_operator.builders import deployment, meta, vector_meta
from runestone_operator.models import vectorcluster

RUN_AS = 65532
PRE_STOP_SECONDS = 10
"""After the sidecar has turned the gate False, the member keeps serving while endpoints update."""
SHUTDOWN_SECONDS = 110
"""Weaviate flushes its memtables and leaves the cluster; a long grace keeps that from a SIGKILL."""
STARTUP_BUDGET_SECONDS = 600
"""Loading large shards takes time; the liveness probe waits this long for a first answer."""
PROBE_PERIOD_SECONDS = 2
DEFAULT_RESOURCES: dict[str, dict[str, str | int]] = {"requests": {"cpu": "250m", "memory": "1Gi"}}
SIDECAR_RESOURCES = deployment.SIDECAR_RESOURCES


@dataclass(frozen=True)
class Inputs:
    owner: meta.Owner
    spec: vectorcluster.VectorClusterSpec
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


def image(spec: vectorcluster.VectorClusterSpec) -> str:
    return spec.image or f"{vectornames.DEFAULT_REPOSITORY}:{spec.version}"


def users(spec: vectorcluster.VectorClusterSpec) -> tuple[list[str], list[str]]:
    """Weaviate's root (admin) users and read-only users: the spec's keys plus the operator's
    own (admin: backups, shard checks) and the sidecar's (read-only: `/v1/nodes`)."""
    admins = [key.name for key in spec.api_keys if key.role == "admin"]
    viewers = [key.name for key in spec.api_keys if key.role == "viewer"]
    return [*admins, vectornames.OPERATOR_USER], [*viewers, vectornames.PROBE_USER]


def _value(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def _field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _backup_env(inputs: Inputs) -> list[dict[str, Any]]:
    backup = inputs.spec.backup
    if backup is None:
        return []
    if backup.backend == "filesystem":
        return [
            _value("ENABLE_MODULES", "backup-filesystem"),
            _value("BACKUP_FILESYSTEM_PATH", vectornames.BACKUP_DIR),
        ]
    assert backup.s3 is not None  # guaranteed by the CRD's CEL rule
    s3 = backup.s3
    env = [_value("ENABLE_MODULES", "backup-s3"), _value("BACKUP_S3_BUCKET", s3.bucket)]
    if s3.endpoint:
        endpoint = s3.endpoint.removeprefix("https://").removeprefix("http://")
        env.append(_value("BACKUP_S3_ENDPOINT", endpoint))
        env.append(
            _value("BACKUP_S3_USE_SSL", "false" if s3.endpoint.startswith("http://") else "true")
        )
    if s3.region:
        env.append(_value("AWS_REGION", s3.region))
    credentials = s3.credentials_secret_ref.name
    env.append(_secret("AWS_ACCESS_KEY_ID", credentials, "AWS_ACCESS_KEY_ID"))
    env.append(_secret("AWS_SECRET_ACCESS_KEY", credentials, "AWS_SECRET_ACCESS_KEY"))
    return env


def environment(inputs: Inputs) -> list[dict[str, Any]]:
    spec, owner = inputs.spec, inputs.owner
    admins, viewers = users(spec)
    auth = vectornames.auth_secret(owner.name)
    env = [
        _field("CLUSTER_HOSTNAME", "metadata.name"),
        _value("CLUSTER_GOSSIP_BIND_PORT", str(vectornames.GOSSIP_PORT)),
        _value("CLUSTER_DATA_BIND_PORT", str(vectornames.DATA_PORT)),
        _value(
            "CLUSTER_JOIN", vectorplan.cluster_join(owner.name, owner.namespace, inputs.replicas)
        ),
        _value("RAFT_PORT", str(vectornames.RAFT_PORT)),
        _value("RAFT_INTERNAL_RPC_PORT", str(vectornames.RAFT_RPC_PORT)),
        _value("RAFT_JOIN", vectorplan.raft_join(owner.name, inputs.replicas)),
        _value("RAFT_BOOTSTRAP_EXPECT", str(vectorplan.voters(inputs.replicas))),
        _value("GRPC_PORT", str(vectornames.GRPC_PORT)),
        _value("PERSISTENCE_DATA_PATH", vectornames.DATA_DIR),
        _value("DEFAULT_VECTORIZER_MODULE", "none"),
        _value("DISABLE_TELEMETRY", "true"),
        _value("GO_PROFILING_DISABLE", "true"),
        _value("PROMETHEUS_MONITORING_ENABLED", "true"),
        _value("PROMETHEUS_MONITORING_PORT", str(vectornames.METRICS_PORT)),
        _value("REPLICA_MOVEMENT_ENABLED", "true"),
        _value("AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED", "false"),
        _value("AUTHENTICATION_APIKEY_ENABLED", "true"),
        _secret("AUTHENTICATION_APIKEY_ALLOWED_KEYS", auth, "AUTHENTICATION_APIKEY_ALLOWED_KEYS"),
        _secret("AUTHENTICATION_APIKEY_USERS", auth, "AUTHENTICATION_APIKEY_USERS"),
        _value("AUTHORIZATION_RBAC_ENABLED", "true"),
        _value("AUTHORIZATION_RBAC_ROOT_USERS", ",".join(admins)),
        _value("EXPERIMENTAL_AUTHORIZATION_RBAC_READONLY_USERS", ",".join(viewers)),
    ]
    if spec.replication_factor is not None:
        # The default for new collections, and the least a collection may ask for.
        env.append(_value("REPLICATION_MINIMUM_FACTOR", str(spec.replication_factor)))
    if inputs.tls_secret is not None:
        env.append(_value("GRPC_CERT_FILE", f"{vectornames.TLS_DIR}/tls.crt"))
        env.append(_value("GRPC_KEY_FILE", f"{vectornames.TLS_DIR}/tls.key"))
    return env + _backup_env(inputs)


def arguments(tls: bool) -> list[str]:
    """With client TLS, plain HTTP stays on the pod's loopback (for the sidecar) and clients get
    HTTPS; without it, plain HTTP on every address."""
    if not tls:
        return ["--host", "0.0.0.0", "--port", str(vectornames.REST_PORT), "--scheme", "http"]
    return [
        "--scheme",
        "http",
        "--scheme",
        "https",
        "--host",
        "127.0.0.1",
        "--port",
        str(vectornames.REST_PORT),
        "--tls-host",
        "0.0.0.0",
        "--tls-port",
        str(vectornames.HTTPS_PORT),
        "--tls-certificate",
        f"{vectornames.TLS_DIR}/tls.crt",
        "--tls-key",
        f"{vectornames.TLS_DIR}/tls.key",
    ]


def client_port(tls: bool) -> int:
    return vectornames.HTTPS_PORT if tls else vectornames.REST_PORT


def _mount(name: str, path: str, read_only: bool = False) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": name, "mountPath": path}
    if read_only:
        mount["readOnly"] = True
    return mount


def _probe(path: str, tls: bool, **timing: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "client", "scheme": "HTTPS" if tls else "HTTP"},
        "timeoutSeconds": 3,
        **timing,
    }


def _ports(tls: bool) -> list[dict[str, Any]]:
    return [
        {"name": "client", "containerPort": client_port(tls), "protocol": "TCP"},
        {"name": "grpc", "containerPort": vectornames.GRPC_PORT, "protocol": "TCP"},
        {"name": "gossip", "containerPort": vectornames.GOSSIP_PORT, "protocol": "TCP"},
        {"name": "gossip-udp", "containerPort": vectornames.GOSSIP_PORT, "protocol": "UDP"},
        {"name": "data", "containerPort": vectornames.DATA_PORT, "protocol": "TCP"},
        {"name": "raft", "containerPort": vectornames.RAFT_PORT, "protocol": "TCP"},
        {"name": "raft-rpc", "containerPort": vectornames.RAFT_RPC_PORT, "protocol": "TCP"},
        {"name": "metrics", "containerPort": vectornames.METRICS_PORT, "protocol": "TCP"},
    ]


def weaviate_container(inputs: Inputs) -> dict[str, Any]:
    tls = inputs.tls_secret is not None
    mounts = [
        _mount(vectornames.DATA_VOLUME, vectornames.DATA_DIR),
        _mount("tmp", "/tmp"),  # noqa: S108 - an emptyDir, not shared
    ]
    if tls:
        mounts.append(_mount("tls", vectornames.TLS_DIR, read_only=True))
    if inputs.backup_claim is not None:
        mounts.append(_mount(vectornames.BACKUP_VOLUME, vectornames.BACKUP_DIR))
    resources = (
        inputs.spec.resources.model_dump(mode="json", exclude_none=True)
        if inputs.spec.resources is not None
        else DEFAULT_RESOURCES
    )
    return {
        "name": vectornames.WEAVIATE_CONTAINER,
        "image": image(inputs.spec),
        "args": arguments(tls),
        "env": environment(inputs),
        "ports": _ports(tls),
        "startupProbe": _probe(
            "/v1/.well-known/live",
            tls,
            periodSeconds=5,
            failureThreshold=STARTUP_BUDGET_SECONDS // 5,
        ),
        "livenessProbe": _probe("/v1/.well-known/live", tls, periodSeconds=10, failureThreshold=6),
        "readinessProbe": _probe("/v1/.well-known/ready", tls, periodSeconds=5, failureThreshold=3),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
        "resources": resources,
        "securityContext": deployment.CONTAINER_SECURITY,
        "volumeMounts": mounts,
    }


def sidecar_container(inputs: Inputs) -> dict[str, Any]:
    return {
        "name": vectornames.SIDECAR_CONTAINER,
        "image": inputs.sidecar_image,
        "command": ["runestone"],
        "args": [
            "sidecar",
            "--target",
            "weaviate",
            "--url",
            f"http://127.0.0.1:{vectornames.REST_PORT}",
            "--condition",
            names.MEMBER_READY_GATE,
            "--api-key-file",
            f"{vectornames.PROBE_KEY_DIR}/{names.API_KEY_DATA_KEY}",
            "--period",
            str(PROBE_PERIOD_SECONDS),
            "--port",
            str(vectornames.SIDECAR_PORT),
            "--grpc-port",
            str(vectornames.SIDECAR_GRPC_PORT),
        ],
        "env": [
            _field("POD_NAME", "metadata.name"),
            _field("POD_NAMESPACE", "metadata.namespace"),
        ],
        "ports": [
            {"name": "sidecar", "containerPort": vectornames.SIDECAR_PORT, "protocol": "TCP"},
            {
                "name": "sidecar-grpc",
                "containerPort": vectornames.SIDECAR_GRPC_PORT,
                "protocol": "TCP",
            },
        ],
        "resources": SIDECAR_RESOURCES,
        "securityContext": deployment.CONTAINER_SECURITY,
        "volumeMounts": [
            _mount("kube-api-access", names.SERVICE_ACCOUNT_DIR, read_only=True),
            _mount("probe-key", vectornames.PROBE_KEY_DIR, read_only=True),
            _mount("tmp", "/tmp"),  # noqa: S108 - an emptyDir, not shared
        ],
    }


def _volumes(inputs: Inputs) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        {
            "name": "probe-key",
            "secret": {
                "secretName": vectornames.probe_key_secret(inputs.owner.name),
                "defaultMode": 0o440,
            },
        },
        deployment._api_access_volume(),
    ]
    if inputs.tls_secret is not None:
        volumes.append(
            {
                "name": "tls",
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
                "name": vectornames.BACKUP_VOLUME,
                "persistentVolumeClaim": {"claimName": inputs.backup_claim},
            }
        )
    return volumes


def claim_template(spec: vectorcluster.VectorClusterSpec) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage.size}},
    }
    if spec.storage.storage_class_name:
        claim["storageClassName"] = spec.storage.storage_class_name
    return {"metadata": {"name": vectornames.DATA_VOLUME}, "spec": claim}


def template_annotations(inputs: Inputs) -> dict[str, str]:
    annotations = {vectornames.CONFIG_HASH: inputs.config_hash}
    if inputs.restart_token:
        annotations[vectornames.RESTARTED_FOR] = inputs.restart_token
    return annotations


def statefulset(inputs: Inputs) -> meta.Manifest:
    owner = inputs.owner
    selector = vectornames.selector(owner.name)
    # Claim templates cannot change once the StatefulSet exists: keep what it was created with.
    templates = (
        [{k: v for k, v in t.items() if k != "status"} for t in inputs.claim_templates]
        if inputs.claim_templates
        else [claim_template(inputs.spec)]
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": vector_meta.object_meta(owner, vectornames.statefulset(owner.name)),
        "spec": {
            "replicas": inputs.replicas,
            "serviceName": vectornames.headless_service(owner.name),
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
                    "labels": vectornames.labels(owner.name),
                    "annotations": template_annotations(inputs),
                },
                "spec": {
                    "serviceAccountName": vectornames.service_account(owner.name),
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "readinessGates": [{"conditionType": names.MEMBER_READY_GATE}],
                    "terminationGracePeriodSeconds": PRE_STOP_SECONDS + SHUTDOWN_SECONDS,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS,
                        "runAsGroup": RUN_AS,
                        "fsGroup": RUN_AS,
                        "fsGroupChangePolicy": "OnRootMismatch",
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
                    "containers": [weaviate_container(inputs), sidecar_container(inputs)],
                    "volumes": _volumes(inputs),
                },
            },
            "volumeClaimTemplates": templates,
        },
    }
