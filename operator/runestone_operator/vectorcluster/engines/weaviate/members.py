"""A Weaviate member's container: its environment (cluster membership through Raft and memberlist,
API keys, RBAC, backups), its listeners and its probes. Pure: an `engine.Member` in, a container
out.

Every member is configured the same way; what differs comes from its pod name (the node name,
`CLUSTER_HOSTNAME`) and from its volume. Members join through the voters' stable DNS names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runestone_operator.core.builders import pods
from runestone_operator.vectorcluster import engine, model, names
from runestone_operator.vectorcluster.engines.weaviate import credentials

NAME = "weaviate"
CONTAINER = "weaviate"
DEFAULT_REPOSITORY = "cr.weaviate.io/semitechnologies/weaviate"

# Ports every member listens on.
REST_PORT = 8080
"""Weaviate's REST API without TLS: the pod's loopback only when client TLS is on."""
HTTPS_PORT = 8443
GRPC_PORT = 50051
GOSSIP_PORT = 7100
DATA_PORT = 7101
RAFT_PORT = 8300
RAFT_RPC_PORT = 8301
METRICS_PORT = 2112
PEER_PORTS = (
    engine.Port("gossip", GOSSIP_PORT),
    engine.Port("gossip-udp", GOSSIP_PORT, "UDP"),
    engine.Port("data", DATA_PORT),
    engine.Port("raft", RAFT_PORT),
    engine.Port("raft-rpc", RAFT_RPC_PORT),
)
"""Gossip, data and Raft: reachable from other members only, since Weaviate has no TLS between
nodes."""
SERVICE_PORTS = (
    engine.Port("grpc", GRPC_PORT, app_protocol="grpc"),
    engine.Port("metrics", METRICS_PORT),
)

# Paths inside member pods.
ENTRYPOINT = "/bin/weaviate"
"""Weaviate in its image (an image set by `spec.image` must keep it there)."""
START_PROGRAM = "runestone-weaviate-start"
IMAGE_BIN_DIR = "/usr/local/bin"
"""Where the runestone image carries START_PROGRAM."""
TOOLS_DIR = "/usr/local/lib/runestone"
DATA_DIR = "/var/lib/weaviate"
BACKUP_DIR = "/var/lib/weaviate-backups"
TLS_DIR = "/etc/weaviate/tls"

PRE_STOP_SECONDS = 10
"""After the sidecar has turned the gate False, the member keeps serving while endpoints update."""
SHUTDOWN_SECONDS = 110
"""Weaviate flushes its memtables and leaves the cluster; a long grace keeps that from a SIGKILL."""
STARTUP_BUDGET_SECONDS = 600
"""Loading large shards takes time; the liveness probe waits this long for a first answer."""
DEFAULT_RESOURCES: dict[str, dict[str, str | int]] = {
    "requests": {"cpu": "250m", "memory": "1Gi"},
    "limits": {"memory": "2Gi"},
}
"""Enough for a small cluster; set `spec.resources` for real data (vectors x dimensions x 4 bytes,
about twice that with the HNSW index, held in memory)."""
GO_MEMORY_SHARE = 0.85
"""GOMEMLIMIT as a share of the memory limit: the Go runtime collects harder as the heap nears
it, leaving room below the limit for what it does not count (stacks, cgo, the page cache)."""

# Asynchronous indexing, because synchronous indexing loses acknowledged vectors from search
# after a crash. Measured on v1.39.3 (3 members, replication factor 3, 3,000 objects written with
# QUORUM, one member SIGKILLed mid-write, tests/integration/vectorcluster/test_crash_index.py):
# with synchronous indexing the killed member's HNSW index came back without its last 7-53
# acknowledged inserts in 5 runs of 5 (in 3 of 3 also when the kill came 30 s after the last
# write), while the objects themselves were there by id; they stayed missing from its searches
# (120 s later too), and async replication does not repair an index. The unflushed tail of the
# HNSW commit log is what is lost. With ASYNC_INDEXING a write is acknowledged once its vector is
# in the shard's on-disk queue, which keeps it until its batch is indexed; the index's log is
# flushed after every batch, and what is still queued at start-up is indexed then: 0 runs of 15
# lost a vector.
# What the queue leaves open, the start program below closes: a SIGKILL inside one batch's
# commit on a replica (seen once, in a CI run of the crash test on 2026-12-05: 2 objects
# acknowledged 40 ms before the kill held by id and never indexed). Weaviate writes the batch's
# object-store WAL before it flushes the vector queue (objectsBatcher.flushWALs in v1.39.3), so a
# kill between the two leaves objects with no vector queued, and nothing compares the index with
# the objects at start-up; async replication sees nothing to repair, since the objects are there.
# Weaviate re-queues, from the objects, every vector its index lacks when index.db holds an
# indexing checkpoint for the shard (Shard.ConvertQueue, kept for queues of older releases), and
# deletes the checkpoint when done. So members start through `runestone-weaviate-start`
# (operator/weaviate-start, carried by the runestone image and copied into the pod by an init
# container, so that it also runs when only the container restarts): before it execs Weaviate it
# writes that checkpoint for every shard whose object store still has a write-ahead log (a clean
# stop flushes and removes it). Weaviate's own repair (Shard.RepairIndex) does the same but is
# reachable only through its unauthenticated debug listener, which the members keep off. (A
# member that was not killed has been seen holding a batch's objects without vectors too, and
# nothing here repairs that: docs/vectorcluster.md, "Indexing and crashes".)
# The cost is read-after-write: a search finds a new object once the queue has indexed it. With
# Weaviate's own queue settings that took 0.5-1 s idle but 33-82 s under a steady write stream
# (the queue grew to 34k: a partial chunk waits for 100 ms without writes); with the two below,
# 0.3-1 s idle and about 1 s under the same stream (queue at most ~70), against 0.03-0.12 s with
# synchronous indexing.
INDEXING_ENV = (
    ("ASYNC_INDEXING", "true"),
    ("ASYNC_INDEXING_STALE_TIMEOUT", "5ms"),
    # how often the queue scheduler looks for work (1 s by default)
    ("QUEUE_SCHEDULER_INTERVAL", "100ms"),
)


# -- membership -----------------------------------------------------------------------------------


def voters(replicas: int) -> int:
    """Raft voters: the first members, at most five (the CRD keeps their count odd)."""
    return min(replicas, model.MAX_VOTERS)


def raft_join(cluster: str, replicas: int) -> str:
    """`RAFT_JOIN`: the voters' node names (Weaviate resolves them through memberlist)."""
    return ",".join(names.member(cluster, i) for i in range(voters(replicas)))


def cluster_join(cluster: str, namespace: str, replicas: int) -> str:
    """`CLUSTER_JOIN`: the voters' stable DNS names with the gossip port. Only voters are listed,
    so adding non-voting members never changes the pod template (and never restarts anyone)."""
    return ",".join(
        f"{names.member_dns(cluster, namespace, i)}:{GOSSIP_PORT}" for i in range(voters(replicas))
    )


def membership_refusal(current: int, target: int) -> str | None:
    """Removing a Raft voter is a membership change the operator does not make."""
    if voters(target) == voters(current):
        return None
    return (
        f"scale-down from {current} to {target} members refused: it would remove Raft "
        f"voters (the first {voters(current)} members vote); only members beyond "
        f"the fifth can be removed"
    )


# -- the container --------------------------------------------------------------------------------


def image(spec: model.VectorClusterSpec) -> str:
    return spec.image or f"{DEFAULT_REPOSITORY}:{spec.version}"


def users(
    spec: model.VectorClusterSpec, gateway_users: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Weaviate's root (admin) users and read-only users: the spec's keys plus the operator's
    own (admin: backups, shard checks), the linked Gateways' (admin: they write) and the
    sidecar's (read-only: `/v1/nodes`)."""
    admins = [key.name for key in spec.api_keys if key.role == "admin"]
    viewers = [key.name for key in spec.api_keys if key.role == "viewer"]
    return [*admins, *gateway_users, names.OPERATOR_USER], [*viewers, names.PROBE_USER]


def _value(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def _secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _backup_env(spec: model.VectorClusterSpec) -> list[dict[str, Any]]:
    backup = spec.backup
    if backup is None:
        return []
    if backup.backend == "filesystem":
        return [
            _value("ENABLE_MODULES", "backup-filesystem"),
            _value("BACKUP_FILESYSTEM_PATH", BACKUP_DIR),
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
    secret = s3.credentials_secret_ref.name
    # Read by reference: the keys never appear in the pod template.
    env += [_secret(key, secret, key) for key in names.S3_CREDENTIAL_KEYS]
    return env


def go_memory_limit(limit_bytes: int) -> str:
    """`GOMEMLIMIT` for a container limited to `limit_bytes`, in whole MiB."""
    return f"{int(limit_bytes * GO_MEMORY_SHARE) // 2**20}MiB"


def environment(member: engine.Member) -> list[dict[str, Any]]:
    spec, cluster = member.spec, member.cluster
    admins, viewers = users(spec, member.gateway_users)
    auth = member.credentials_secret
    env = [
        pods.field_env("CLUSTER_HOSTNAME", "metadata.name"),
        _value("CLUSTER_GOSSIP_BIND_PORT", str(GOSSIP_PORT)),
        _value("CLUSTER_DATA_BIND_PORT", str(DATA_PORT)),
        _value("CLUSTER_JOIN", cluster_join(cluster, member.namespace, member.replicas)),
        _value("RAFT_PORT", str(RAFT_PORT)),
        _value("RAFT_INTERNAL_RPC_PORT", str(RAFT_RPC_PORT)),
        _value("RAFT_JOIN", raft_join(cluster, member.replicas)),
        _value("RAFT_BOOTSTRAP_EXPECT", str(voters(member.replicas))),
        _value("GRPC_PORT", str(GRPC_PORT)),
        _value("PERSISTENCE_DATA_PATH", DATA_DIR),
        _value("DEFAULT_VECTORIZER_MODULE", "none"),
        _value("DISABLE_TELEMETRY", "true"),
        _value("GO_PROFILING_DISABLE", "true"),
        _value("PROMETHEUS_MONITORING_ENABLED", "true"),
        _value("PROMETHEUS_MONITORING_PORT", str(METRICS_PORT)),
        _value("REPLICA_MOVEMENT_ENABLED", "true"),
        *(_value(name, value) for name, value in INDEXING_ENV),
        _value("AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED", "false"),
        _value("AUTHENTICATION_APIKEY_ENABLED", "true"),
        _secret(credentials.ALLOWED_KEYS, auth, credentials.ALLOWED_KEYS),
        _secret(credentials.USERS, auth, credentials.USERS),
        _value("AUTHORIZATION_RBAC_ENABLED", "true"),
        _value("AUTHORIZATION_RBAC_ROOT_USERS", ",".join(admins)),
        _value("EXPERIMENTAL_AUTHORIZATION_RBAC_READONLY_USERS", ",".join(viewers)),
    ]
    if spec.replication_factor is not None:
        # The default for new collections, and the least a collection may ask for.
        env.append(_value("REPLICATION_MINIMUM_FACTOR", str(spec.replication_factor)))
    if member.memory_limit_bytes is not None:
        env.append(_value("GOMEMLIMIT", go_memory_limit(member.memory_limit_bytes)))
    if member.tls:
        env.append(_value("GRPC_CERT_FILE", f"{TLS_DIR}/tls.crt"))
        env.append(_value("GRPC_KEY_FILE", f"{TLS_DIR}/tls.key"))
    return env + _backup_env(spec)


def arguments(tls: bool) -> list[str]:
    """With client TLS, plain HTTP stays on the pod's loopback (for the sidecar) and clients get
    HTTPS; without it, plain HTTP on every address."""
    if not tls:
        return ["--host", "0.0.0.0", "--port", str(REST_PORT), "--scheme", "http"]
    return [
        "--scheme",
        "http",
        "--scheme",
        "https",
        "--host",
        "127.0.0.1",
        "--port",
        str(REST_PORT),
        "--tls-host",
        "0.0.0.0",
        "--tls-port",
        str(HTTPS_PORT),
        "--tls-certificate",
        f"{TLS_DIR}/tls.crt",
        "--tls-key",
        f"{TLS_DIR}/tls.key",
    ]


def client_port(tls: bool) -> int:
    return HTTPS_PORT if tls else REST_PORT


def _probe(path: str, tls: bool, **timing: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "client", "scheme": "HTTPS" if tls else "HTTP"},
        "timeoutSeconds": 3,
        **timing,
    }


def _ports(tls: bool) -> list[dict[str, Any]]:
    return [
        {"name": "client", "containerPort": client_port(tls), "protocol": "TCP"},
        {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
        {"name": "gossip", "containerPort": GOSSIP_PORT, "protocol": "TCP"},
        {"name": "gossip-udp", "containerPort": GOSSIP_PORT, "protocol": "UDP"},
        {"name": "data", "containerPort": DATA_PORT, "protocol": "TCP"},
        {"name": "raft", "containerPort": RAFT_PORT, "protocol": "TCP"},
        {"name": "raft-rpc", "containerPort": RAFT_RPC_PORT, "protocol": "TCP"},
        {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
    ]


INSTALL_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "10m", "memory": "16Mi"},
    "limits": {"memory": "64Mi"},
}


def init_containers(member: engine.Member) -> list[dict[str, Any]]:
    """Copy START_PROGRAM from the runestone image into the pod's tools volume (with
    Guaranteed resources beside a Guaranteed member, so that the pod is Guaranteed)."""
    guaranteed = pods.guaranteed(member.resources)
    return [
        {
            "name": "install-start",
            "image": member.runestone_image,
            "command": ["cp", f"{IMAGE_BIN_DIR}/{START_PROGRAM}", f"{TOOLS_DIR}/{START_PROGRAM}"],
            "resources": pods.HELPER_GUARANTEED_RESOURCES if guaranteed else INSTALL_RESOURCES,
            "securityContext": pods.CONTAINER_SECURITY,
            "volumeMounts": [pods.mount(names.TOOLS_VOLUME, TOOLS_DIR, read_only=False)],
        }
    ]


def command() -> list[str]:
    """Weaviate, started by START_PROGRAM (the comment above INDEXING_ENV says why)."""
    return [f"{TOOLS_DIR}/{START_PROGRAM}", "--data", DATA_DIR, "--", ENTRYPOINT]


def container(member: engine.Member) -> dict[str, Any]:
    tls = member.tls
    mounts = [
        pods.mount(names.DATA_VOLUME, DATA_DIR, read_only=False),
        pods.mount(names.TMP_VOLUME, "/tmp", read_only=False),  # noqa: S108 - an emptyDir
        pods.mount(names.TOOLS_VOLUME, TOOLS_DIR, read_only=True),
    ]
    if tls:
        mounts.append(pods.mount(names.TLS_VOLUME, TLS_DIR, read_only=True))
    if member.backup_volume:
        mounts.append(pods.mount(names.BACKUP_VOLUME, BACKUP_DIR, read_only=False))
    return {
        "name": CONTAINER,
        "image": image(member.spec),
        "command": command(),
        "args": arguments(tls),
        "env": environment(member),
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
        "resources": dict(member.resources),
        "securityContext": pods.CONTAINER_SECURITY,
        "volumeMounts": mounts,
    }


def probe(key_file: str) -> list[str]:
    """The sidecar's member probe: `/v1/.well-known/ready`, then this node in `/v1/nodes`, on
    the pod's loopback REST port."""
    return ["--engine", NAME, "--url", f"http://127.0.0.1:{REST_PORT}", "--api-key-file", key_file]
