"""Names, labels, ports and paths of what the operator creates for a VectorCluster: one place, so
the builders, the reconcile steps, the sidecar wiring and the tests agree on every one of them.

Member pods use the same ports everywhere; only the client API is exposed through the client
Service. Gossip, data and Raft traffic stays between members (a NetworkPolicy fences it), since
Weaviate has no TLS between nodes."""

from __future__ import annotations

from runestone_operator import names

APP = "runestone-vectorcluster"
COMPONENT = "weaviate"
WEAVIATE_CONTAINER = "weaviate"
SIDECAR_CONTAINER = "sidecar"
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
SIDECAR_PORT = names.SIDECAR_PORT
SIDECAR_GRPC_PORT = names.SIDECAR_GRPC_PORT
MEMBER_PORTS = (GOSSIP_PORT, DATA_PORT, RAFT_PORT, RAFT_RPC_PORT)
"""Cluster-internal ports: reachable from other members only."""

# Paths inside member pods.
DATA_DIR = "/var/lib/weaviate"
BACKUP_DIR = "/var/lib/weaviate-backups"
TLS_DIR = "/etc/weaviate/tls"
PROBE_KEY_DIR = "/etc/runestone/weaviate-key"
DATA_VOLUME = "data"
BACKUP_VOLUME = "backups"

# Weaviate users the operator adds next to the spec's keys; `_` keeps them out of the DNS-label
# names a spec key may take.
OPERATOR_USER = "runestone_operator"
PROBE_USER = "runestone_probe"

# Annotations.
BACKUP_REQUEST = "runestone.dev/backup"
"""On a VectorCluster: a new value requests one backup (the CronJob writes the scheduled time)."""
RESTART_REQUEST = "runestone.dev/restart"
"""On a VectorCluster: a new value restarts every member, one at a time, gated on readiness."""
CONFIG_HASH = "runestone.dev/config-hash"
"""On the pod template: a digest of the keys' hashes and the serving certificate, so a change to
either rolls the members (Weaviate reads both only at start)."""
RESTARTED_FOR = "runestone.dev/restart-token"
REVISION_LABEL = "controller-revision-hash"


def labels(cluster: str) -> dict[str, str]:
    return {
        names.LABEL_NAME: APP,
        names.LABEL_INSTANCE: cluster,
        names.LABEL_COMPONENT: COMPONENT,
        names.LABEL_MANAGED_BY: names.MANAGED_BY,
    }


def selector(cluster: str) -> dict[str, str]:
    """The labels that select a cluster's member pods (stable for the StatefulSet's lifetime)."""
    return {names.LABEL_NAME: APP, names.LABEL_INSTANCE: cluster, names.LABEL_COMPONENT: COMPONENT}


def label_selector(cluster: str) -> str:
    return ",".join(f"{key}={value}" for key, value in selector(cluster).items())


def statefulset(cluster: str) -> str:
    return cluster


def client_service(cluster: str) -> str:
    return cluster


def headless_service(cluster: str) -> str:
    return f"{cluster}-members"


def network_policy(cluster: str) -> str:
    return f"{cluster}-members"


def pdb(cluster: str) -> str:
    return cluster


def member(cluster: str, ordinal: int) -> str:
    return f"{cluster}-{ordinal}"


def ordinal(cluster: str, pod: str) -> int | None:
    """The ordinal of a member pod's name, or None when it is not one of the cluster's."""
    prefix = f"{cluster}-"
    tail = pod[len(prefix) :] if pod.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


def member_dns(cluster: str, namespace: str, ordinal: int) -> str:
    return f"{member(cluster, ordinal)}.{headless_service(cluster)}.{namespace}.svc.cluster.local"


def key_secret(cluster: str, key: str) -> str:
    return names.key_secret(cluster, key)


def auth_secret(cluster: str) -> str:
    """Weaviate's allowed keys and users, read into the members' environment."""
    return f"{cluster}-weaviate-auth"


def operator_key_secret(cluster: str) -> str:
    return f"{cluster}-operator-key"


def probe_key_secret(cluster: str) -> str:
    return f"{cluster}-probe-key"


def tls_secret(cluster: str) -> str:
    return names.tls_secret(cluster)


def ca_secret(cluster: str) -> str:
    return names.ca_secret(cluster)


def service_account(cluster: str) -> str:
    return names.vector_service_account(cluster)


def backup_job_account(cluster: str) -> str:
    """The backup CronJob's identity; allowed only to annotate its own VectorCluster."""
    return f"runestone-vector-backup-{cluster}"


def backup_cronjob(cluster: str) -> str:
    return f"{cluster}-backup"


def backup_claim(cluster: str) -> str:
    return f"{cluster}-backups"


def client_dns_names(cluster: str, namespace: str) -> list[str]:
    """Every name a client in the cluster may use for the client Service."""
    return names.service_dns_names(client_service(cluster), namespace)
