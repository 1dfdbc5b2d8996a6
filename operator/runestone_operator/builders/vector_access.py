"""Identities around a VectorCluster: the members' ServiceAccount (its only grant is what the
sidecar needs to report readiness) and the backup CronJob's (its only grant is annotating its own
VectorCluster to request a backup)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runestone_operator import vectornames
from runestone_operator.builders import meta, rbac, vector_meta
from runestone_operator.models import common, vectorcluster

BACKUP_JOB_RULES = [
    {"apiGroups": [common.GROUP], "resources": [vectorcluster.PLURAL], "verbs": ["get", "patch"]},
]


def _service_account(owner: meta.Owner, name: str) -> meta.Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": vector_meta.object_meta(owner, name),
        "automountServiceAccountToken": False,
    }


def _role(owner: meta.Owner, name: str, rules: Sequence[Mapping[str, Any]]) -> meta.Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": vector_meta.object_meta(owner, name),
        "rules": [dict(rule) for rule in rules],
    }


def _binding(owner: meta.Owner, name: str) -> meta.Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": vector_meta.object_meta(owner, name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": owner.namespace}],
    }


def member_identity(owner: meta.Owner) -> list[meta.Manifest]:
    """ServiceAccount, Role and RoleBinding `runestone-vector-<name>`."""
    name = vectornames.service_account(owner.name)
    return [
        _service_account(owner, name),
        _role(owner, name, rbac.SIDECAR_RULES),
        _binding(owner, name),
    ]


def backup_identity(owner: meta.Owner) -> list[meta.Manifest]:
    """ServiceAccount, Role and RoleBinding `runestone-vector-backup-<name>`, limited by name to
    this one VectorCluster."""
    name = vectornames.backup_job_account(owner.name)
    rules = [{**rule, "resourceNames": [owner.name]} for rule in BACKUP_JOB_RULES]
    return [_service_account(owner, name), _role(owner, name, rules), _binding(owner, name)]
