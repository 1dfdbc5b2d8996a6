"""Identities around a VectorCluster: the members' ServiceAccount (its only grant is what the
sidecar needs to report readiness) and the backup CronJob's (its only grant is annotating its own
VectorCluster to request a backup)."""

from __future__ import annotations

from runestone_operator.core import kinds, meta
from runestone_operator.core.builders import identity
from runestone_operator.vectorcluster import names
from runestone_operator.vectorcluster.builders.cluster import Cluster

BACKUP_JOB_RULES = [
    {
        "apiGroups": [kinds.GROUP],
        "resources": [kinds.VECTOR_CLUSTER.plural],
        "verbs": ["get", "patch"],
    },
]


def member_identity(cluster: Cluster) -> list[meta.Manifest]:
    """ServiceAccount, Role and RoleBinding `runestone-vector-<name>`."""
    name = names.service_account(cluster.name)
    return identity.identity(cluster.owner, name, cluster.labels(), identity.SIDECAR_RULES)


def backup_identity(cluster: Cluster) -> list[meta.Manifest]:
    """ServiceAccount, Role and RoleBinding `runestone-vector-backup-<name>`, limited by name to
    this one VectorCluster."""
    name = names.backup_job_account(cluster.name)
    rules = [{**rule, "resourceNames": [cluster.name]} for rule in BACKUP_JOB_RULES]
    return identity.identity(cluster.owner, name, cluster.labels(), rules)
