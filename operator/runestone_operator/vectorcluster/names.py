"""Names, labels and paths of what the operator creates for a VectorCluster, whatever its engine:
one place, so the builders, the reconcile steps, the sidecar wiring and the tests agree on every
one of them. What belongs to one engine (its ports, its paths, its settings) is in that engine's
folder under `engines/`."""

from __future__ import annotations

from runestone_operator.core import names

APP = "runestone-vectorcluster"
SIDECAR_CONTAINER = "sidecar"
MEMBER_READY_GATE = "runestone.dev/member-ready"
"""The readiness gate of member pods (set only by the sidecar of the pod)."""
SIDECAR_PORT = names.SIDECAR_PORT
SIDECAR_GRPC_PORT = names.SIDECAR_GRPC_PORT

# Volumes of a member pod; the engine decides where its container mounts them.
DATA_VOLUME = "data"
BACKUP_VOLUME = "backups"
TLS_VOLUME = "tls"
TMP_VOLUME = "tmp"
TOOLS_VOLUME = "runestone-tools"
PROBE_KEY_DIR = "/etc/runestone/probe-key"
"""Where the sidecar reads the key it probes its member with."""

# Users the operator adds next to the spec's keys; `_` keeps them out of the DNS-label names a
# spec key may take.
OPERATOR_USER = "runestone_operator"
PROBE_USER = "runestone_probe"

S3_CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
"""The keys of the Secret `backup.s3.credentialsSecretRef` names."""

# Annotations.
BACKUP_REQUEST = "runestone.dev/backup"
"""On a VectorCluster: a new value requests one backup (the CronJob writes the scheduled time)."""
RESTART_REQUEST = "runestone.dev/restart"
"""On a VectorCluster: a new value restarts every member, one at a time, gated on readiness."""
CONFIG_HASH = "runestone.dev/config-hash"
"""On the pod template: a digest of the members' credentials and the serving certificate, so a
change to either rolls the members (engines read both only at start)."""
RESTARTED_FOR = "runestone.dev/restart-token"
REVISION_LABEL = "controller-revision-hash"
MEMBER_POD_LABEL = "statefulset.kubernetes.io/pod-name"
"""Set by the StatefulSet controller on each of its pods: what tells members from a cluster's
other pods (its backup jobs) whatever the engine."""


def labels(cluster: str, component: str) -> dict[str, str]:
    """Labels of every child; `component` is the engine's name."""
    return names.labels(APP, cluster, component)


def selector(cluster: str, component: str) -> dict[str, str]:
    """The labels that select a cluster's member pods (stable for the StatefulSet's lifetime)."""
    return names.selector(APP, cluster, component)


def label_selector(cluster: str) -> str:
    """Lists a cluster's member pods, whatever its engine."""
    return f"{names.LABEL_NAME}={APP},{names.LABEL_INSTANCE}={cluster},{MEMBER_POD_LABEL}"


def claim_selector(cluster: str) -> str:
    """Lists a cluster's claims: its members' (labelled by the StatefulSet controller with its
    selector) and its backup claim."""
    return f"{names.LABEL_NAME}={APP},{names.LABEL_INSTANCE}={cluster}"


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


def credentials_secret(cluster: str, engine: str) -> str:
    """The engine's own list of who may connect with which key, read by the members."""
    return f"{cluster}-{engine}-auth"


def operator_key_secret(cluster: str) -> str:
    return f"{cluster}-operator-key"


def probe_key_secret(cluster: str) -> str:
    return f"{cluster}-probe-key"


def tls_secret(cluster: str) -> str:
    return names.tls_secret(cluster)


def ca_secret(cluster: str) -> str:
    return names.ca_secret(cluster)


def ca_key_secret(cluster: str) -> str:
    return names.ca_key_secret(cluster)


def certificate(cluster: str) -> str:
    """The cert-manager Certificate writing `tls_secret` (mode certManager)."""
    return tls_secret(cluster)


def service_account(cluster: str) -> str:
    return f"runestone-vector-{cluster}"


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


def serving_dns_names(cluster: str, namespace: str) -> list[str]:
    """The client Service's names and, for clients that pick a member, every member's name."""
    members = f"{headless_service(cluster)}.{namespace}.svc"
    return [*client_dns_names(cluster, namespace), f"*.{members}", f"*.{members}.cluster.local"]
