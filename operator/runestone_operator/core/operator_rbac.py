"""What the operator itself may do: a ClusterRole for what it reconciles, and a Role in its own
namespace for its leader-election Lease. The single statement of its RBAC needs, packaged by the
Helm chart and used by the integration tests to run the operator with exactly these permissions.

Every permission is one of four things, each kept honest by a test:

- `CALLS`: a verb on a resource that the operator calls (through `core.kube`, or Kopf's watches).
  `tests/integration/operator/test_operator_rbac_calls.py` runs the operator through every path
  against the real API server with an audit log and fails unless the calls it saw are exactly
  these and `ELECTION`'s: a permission the operator no longer uses, or a call without one, fails
  it.
- `ELECTION`: the leader-election Lease, called too, but granted by a Role in the operator's own
  namespace only, never cluster-wide.
- `DELEGATED`: held only to be granted, since RBAC refuses to let anyone create a Role that grants
  more than they hold: the rules of the Roles the operator gives sidecars and backup jobs (a unit
  test keeps the two equal).
- `OWNER_REFERENCES`: update on the finalizers of the kinds that own children, which the API
  server requires (with OwnerReferencesPermissionEnforcement, as the local control plane runs
  it) of whoever sets `blockOwnerDeletion` on a child's owner reference.

Nothing watches or lists Secrets: key Secrets are read by name (`core.steps.keys`). A server-side
apply that creates an object needs `create` as well as `patch`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import kinds, meta

CLUSTER_ROLE_NAME = "runestone-operator"
ELECTION_ROLE_NAME = "runestone-operator-leader-election"
RBAC = "rbac.authorization.k8s.io"

GET, LIST, WATCH, CREATE, PATCH, UPDATE, DELETE = (
    "get",
    "list",
    "watch",
    "create",
    "patch",
    "update",
    "delete",
)
VERB_ORDER = (GET, LIST, WATCH, CREATE, UPDATE, PATCH, DELETE)


@dataclass(frozen=True)
class Grant:
    """Verbs on one resource (`plural` or `plural/subresource`) of one API group, and why."""

    group: str
    resource: str
    verbs: frozenset[str]
    why: str

    def pairs(self) -> set[tuple[str, str, str]]:
        """(group, resource, verb) for each verb."""
        return {(self.group, self.resource, verb) for verb in self.verbs}


def _grant(group: str, resource: str, verbs: Iterable[str], why: str) -> Grant:
    return Grant(group, resource, frozenset(verbs), why)


_APPLIED = (CREATE, PATCH)
"""Written by server-side apply (a create when the object is new)."""
_OPTIONAL = (GET, CREATE, PATCH, DELETE)
"""Applied when the spec asks for it, read and deleted (if the object's own) when it no longer
does."""

CALLS: tuple[Grant, ...] = (
    *(
        _grant(kinds.GROUP, kind.plural, (GET, LIST, WATCH), "read at each reconcile; watched")
        for kind in kinds.ALL
    ),
    *(
        _grant(kinds.GROUP, f"{kind.plural}/status", (PATCH,), "the status, server-side applied")
        for kind in kinds.ALL
    ),
    _grant(
        "",
        "secrets",
        (GET, CREATE, PATCH, DELETE),
        "keys, CA and certificates by name; revoked keys and replaced CA Secrets deleted",
    ),
    _grant("", "configmaps", _APPLIED, "a Gateway's config file"),
    _grant(
        "",
        "services",
        (GET, *_APPLIED),
        "Gateway and VectorCluster Services; read to see which of two namesakes holds the name",
    ),
    _grant("", "serviceaccounts", _APPLIED, "the sidecars' and backup jobs' identities"),
    _grant(
        "",
        "persistentvolumeclaims",
        (GET, LIST, *_APPLIED),
        "a filesystem backup's claim; member claims listed and grown to spec.storage.size",
    ),
    _grant("", "pods", (LIST, WATCH, DELETE), "readiness; members restarted one at a time"),
    _grant("", "events", (CREATE,), "Events about the custom resources"),
    _grant("apps", "deployments", (GET, LIST, WATCH, *_APPLIED), "gateways; rollouts watched"),
    _grant("apps", "statefulsets", (GET, LIST, WATCH, *_APPLIED), "members; rollouts watched"),
    _grant("autoscaling", "horizontalpodautoscalers", _OPTIONAL, "spec.autoscaling"),
    _grant("policy", "poddisruptionbudgets", _OPTIONAL, "more than one replica"),
    _grant("networking.k8s.io", "networkpolicies", _OPTIONAL, "member and Gateway NetworkPolicies"),
    _grant("batch", "cronjobs", _OPTIONAL, "spec.backup.schedule"),
    _grant("rbac.authorization.k8s.io", "roles", _APPLIED, "the sidecars' and backup jobs'"),
    _grant("rbac.authorization.k8s.io", "rolebindings", _APPLIED, "the same, bound"),
    _grant("cert-manager.io", "certificates", _OPTIONAL, "tls.mode certManager"),
    _grant("monitoring.coreos.com", "servicemonitors", _OPTIONAL, "metrics.serviceMonitor"),
)

DELEGATED: tuple[Grant, ...] = (
    _grant("", "pods", (GET,), "granted to sidecars: reading their own pod"),
    _grant("", "pods/status", (GET, PATCH), "granted to sidecars: their readiness condition"),
    _grant(
        kinds.GROUP,
        kinds.VECTOR_CLUSTER.plural,
        (GET, PATCH),
        "granted to a VectorCluster's backup job: annotating its own VectorCluster",
    ),
)

OWNERS = (kinds.GATEWAY, kinds.VECTOR_CLUSTER)
"""The kinds whose objects own children (a ProviderPool owns none)."""

OWNER_REFERENCES: tuple[Grant, ...] = tuple(
    _grant(kinds.GROUP, f"{kind.plural}/finalizers", (UPDATE,), "blockOwnerDeletion on children")
    for kind in OWNERS
)

ELECTION: tuple[Grant, ...] = (
    _grant(
        "coordination.k8s.io",
        "leases",
        (GET, CREATE, UPDATE),
        "the leader-election Lease: read, created once, renewed and taken over by update",
    ),
)

GRANTS = (*CALLS, *DELEGATED, *OWNER_REFERENCES)
"""What the ClusterRole grants."""


def _pairs(grants: Iterable[Grant]) -> set[tuple[str, str, str]]:
    return {pair for grant in grants for pair in grant.pairs()}


def called() -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every call the operator makes, its Lease's included."""
    return _pairs((*CALLS, *ELECTION))


def granted() -> set[tuple[str, str, str]]:
    """(group, resource, verb) of everything the ClusterRole grants."""
    return _pairs(GRANTS)


def rules() -> list[dict[str, Any]]:
    """The ClusterRole's rules."""
    return _rules(granted())


def election_rules() -> list[dict[str, Any]]:
    """The leader-election Role's rules, in the operator's own namespace only."""
    return _rules(_pairs(ELECTION))


def _rules(pairs: set[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """One rule per resource, with every verb it needs, in a stable order."""
    verbs: dict[tuple[str, str], set[str]] = {}
    for group, resource, verb in pairs:
        verbs.setdefault((group, resource), set()).add(verb)
    return [
        {
            "apiGroups": [group],
            "resources": [resource],
            "verbs": [verb for verb in VERB_ORDER if verb in verbs[(group, resource)]],
        }
        for group, resource in sorted(verbs)
    ]


def _metadata(name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/part-of": "runestone"}}
    if namespace is not None:
        metadata["namespace"] = namespace
    return metadata


def _role(
    kind: str, name: str, namespace: str | None, role_rules: list[dict[str, Any]]
) -> meta.Manifest:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": _metadata(name, namespace),
        "rules": role_rules,
    }


def _binding(
    role_kind: str, name: str, service_account: str, namespace: str, binding_namespace: str | None
) -> meta.Manifest:
    """`role_kind` `name` bound to the ServiceAccount `service_account` of `namespace`."""
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": f"{role_kind}Binding",
        "metadata": _metadata(name, binding_namespace),
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


def cluster_role(name: str = CLUSTER_ROLE_NAME) -> meta.Manifest:
    return _role("ClusterRole", name, None, rules())


def cluster_role_binding(
    service_account: str, namespace: str, name: str = CLUSTER_ROLE_NAME
) -> meta.Manifest:
    return _binding("ClusterRole", name, service_account, namespace, None)


def election_role(namespace: str | None = None, name: str = ELECTION_ROLE_NAME) -> meta.Manifest:
    """The Role, in `namespace` (without one: for whoever applies it in the operator's)."""
    return _role("Role", name, namespace, election_rules())


def election_role_binding(
    service_account: str, namespace: str, name: str = ELECTION_ROLE_NAME
) -> meta.Manifest:
    """In the operator's own `namespace`, which its ServiceAccount lives in."""
    return _binding("Role", name, service_account, namespace, namespace)
