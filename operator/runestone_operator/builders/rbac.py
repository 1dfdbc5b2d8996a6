"""The gateway pods' identity: a ServiceAccount whose only grant is what the sidecar needs to
report readiness, reading pods and patching pods/status in the Gateway's namespace."""

from __future__ import annotations

from runestone_operator import names
from runestone_operator.builders import meta

SIDECAR_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get", "patch"]},
]


def service_account(owner: meta.Owner) -> meta.Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta.object_meta(owner, names.gateway_service_account(owner.name)),
        "automountServiceAccountToken": False,
    }


def role(owner: meta.Owner) -> meta.Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta.object_meta(owner, names.gateway_service_account(owner.name)),
        "rules": SIDECAR_RULES,
    }


def role_binding(owner: meta.Owner) -> meta.Manifest:
    name = names.gateway_service_account(owner.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta.object_meta(owner, name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": owner.namespace}],
    }
