"""The operator's ClusterRole is exactly its table: what it calls (checked against the real API
server's audit log by tests/integration/operator/test_operator_rbac_calls.py), what it grants
the Roles it builds, and the owner-reference permission. Nothing more: no wildcard, no watch or
list on Secrets. Its leader-election Lease is granted by a Role in its own namespace only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from runestone_operator.core import kinds, kube, operator_rbac
from runestone_operator.core.builders import identity
from runestone_operator.vectorcluster.builders import access


def _allowed(group: str, resource: str, verb: str) -> bool:
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        for rule in operator_rbac.rules()
    )


def _pairs(rules: Sequence[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_cluster_role_grants_the_table_and_nothing_else() -> None:
    assert _pairs(operator_rbac.rules()) == operator_rbac.granted()
    assert operator_rbac.cluster_role()["rules"] == operator_rbac.rules()


def test_what_is_delegated_is_what_the_built_roles_grant() -> None:
    """RBAC refuses to create a Role granting more than its creator holds: the operator holds
    exactly the union of what it grants sidecars and backup jobs (by resource and verb; the
    backup job's is limited by name, which needs the unlimited grant)."""
    built = [*identity.SIDECAR_RULES, *access.BACKUP_JOB_RULES]
    delegated = {pair for grant in operator_rbac.DELEGATED for pair in grant.pairs()}
    assert _pairs(built) == delegated


def test_owner_references_need_the_owners_finalizers_only() -> None:
    owners = {grant.resource for grant in operator_rbac.OWNER_REFERENCES}
    assert owners == {"gateways/finalizers", "vectorclusters/finalizers"}
    assert not _allowed(kinds.GROUP, "providerpools/finalizers", "update")  # owns nothing


def test_secrets_are_never_watched_nor_listed() -> None:
    """A list of Secrets returns their data: it would read every Secret of a namespace."""
    assert _allowed("", "secrets", "get")
    for verb in ("list", "watch", "update"):
        assert not _allowed("", "secrets", verb), verb


@pytest.mark.parametrize("key", sorted(kube.RESOURCES), ids=lambda key: key[1])
def test_every_resource_the_client_knows_is_called(key: tuple[str, str]) -> None:
    """`core.kube` knows no resource the operator has no call for."""
    target = kube.RESOURCES[key]
    assert any(
        (group, resource) == (target.group, target.plural)
        for group, resource, _ in operator_rbac.called()
    ), target.plural


def test_no_wildcards_and_no_escalation() -> None:
    for rule in operator_rbac.rules():
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"]
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])


def test_the_lease_is_granted_in_the_operators_namespace_only() -> None:
    lease = ("coordination.k8s.io", "leases")
    assert not {pair for pair in operator_rbac.granted() if pair[:2] == lease}
    election = operator_rbac.election_rules()
    assert _pairs(election) == {(*lease, verb) for verb in ("get", "create", "update")}
    assert _pairs(election) <= operator_rbac.called()


def test_election_role_is_namespaced_and_bound_to_the_operator() -> None:
    role = operator_rbac.election_role("ops")
    assert (role["kind"], role["metadata"]["namespace"]) == ("Role", "ops")
    assert role["rules"] == operator_rbac.election_rules()
    assert "namespace" not in operator_rbac.election_role()["metadata"]
    binding = operator_rbac.election_role_binding("runestone-operator", "ops")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "runestone-operator", "namespace": "ops"}
    ]
