"""A pod identity: a ServiceAccount with no automounted token, and the Role and RoleBinding that
grant it exactly the given rules in the owner's namespace. The sidecar's rules (reading its pod,
patching pods/status) are here, since every kind's pods run one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runestone_operator.core import meta

SIDECAR_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get", "patch"]},
]


def service_account(owner: meta.Owner, name: str, labels: Mapping[str, str]) -> meta.Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta.object_meta(owner, name, labels),
        "automountServiceAccountToken": False,
    }


def role(
    owner: meta.Owner, name: str, labels: Mapping[str, str], rules: Sequence[Mapping[str, Any]]
) -> meta.Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta.object_meta(owner, name, labels),
        "rules": [dict(rule) for rule in rules],
    }


def role_binding(owner: meta.Owner, name: str, labels: Mapping[str, str]) -> meta.Manifest:
    """Binds the Role `name` to the ServiceAccount `name`."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta.object_meta(owner, name, labels),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": owner.namespace}],
    }


def identity(
    owner: meta.Owner, name: str, labels: Mapping[str, str], rules: Sequence[Mapping[str, Any]]
) -> list[meta.Manifest]:
    """ServiceAccount, Role and RoleBinding, all named `name`."""
    return [
        service_account(owner, name, labels),
        role(owner, name, labels, rules),
        role_binding(owner, name, labels),
    ]
