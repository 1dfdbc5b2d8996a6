"""What the operator itself may do: a ClusterRole for what it reconciles, and a Role in its own
namespace for its leader-election Lease. The single statement of its RBAC needs, packaged by the
Helm chart and used by the integration tests to run the operator with exactly these
permissions."""

from __future__ import annotations

from typing import Any

from runestone_operator.core import kinds, meta

CLUSTER_ROLE_NAME = "runestone-operator"
ELECTION_ROLE_NAME = "runestone-operator-leader-election"

_WRITE = ["get", "list", "watch", "create", "update", "patch", "delete"]
_KINDS = sorted(kind.plural for kind in kinds.ALL)


def rules() -> list[dict[str, Any]]:
    return [
        {"apiGroups": [kinds.GROUP], "resources": _KINDS, "verbs": ["get", "list", "watch"]},
        # Held so that the operator may grant it to a VectorCluster's backup CronJob.
        {
            "apiGroups": [kinds.GROUP],
            "resources": [kinds.VECTOR_CLUSTER.plural],
            "verbs": ["patch"],
        },
        {
            "apiGroups": [kinds.GROUP],
            "resources": [f"{kind}/status" for kind in _KINDS],
            "verbs": ["get", "patch", "update"],
        },
        # Owner references with blockOwnerDeletion need update on the owner's finalizers.
        {
            "apiGroups": [kinds.GROUP],
            "resources": [f"{kind}/finalizers" for kind in _KINDS],
            "verbs": ["update"],
        },
        {
            "apiGroups": [""],
            "resources": [
                "configmaps",
                "secrets",
                "services",
                "serviceaccounts",
                "persistentvolumeclaims",
            ],
            "verbs": _WRITE,
        },
        # delete: VectorCluster members are restarted one at a time (StatefulSet OnDelete).
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
        # Held so that the operator may grant it to the sidecars (RBAC forbids escalation).
        {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["get", "patch"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": _WRITE},
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _WRITE},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": _WRITE},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": _WRITE},
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": _WRITE},
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["roles", "rolebindings"],
            "verbs": _WRITE,
        },
        {"apiGroups": ["cert-manager.io"], "resources": ["certificates"], "verbs": _WRITE},
    ]


def cluster_role(name: str = CLUSTER_ROLE_NAME) -> meta.Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "runestone"}},
        "rules": rules(),
    }


def cluster_role_binding(
    service_account: str, namespace: str, name: str = CLUSTER_ROLE_NAME
) -> meta.Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "runestone"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


def election_rules() -> list[dict[str, Any]]:
    """The leader-election Lease, in the operator's own namespace only (a Role)."""
    return [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "update"],
        }
    ]


def election_role(namespace: str | None = None, name: str = ELECTION_ROLE_NAME) -> meta.Manifest:
    """The Role, in `namespace` (without one: for whoever applies it in the operator's)."""
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/part-of": "runestone"}}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata,
        "rules": election_rules(),
    }


def election_role_binding(
    service_account: str, namespace: str, name: str = ELECTION_ROLE_NAME
) -> meta.Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "runestone"},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }
