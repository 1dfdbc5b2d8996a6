"""The operator's ClusterRole covers everything the operator reconciles, and its leader-election
Role, in its own namespace, exactly the Lease."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_operator.core import kube, operator_rbac


def _allowed(
    group: str, resource: str, verb: str, rules: list[dict[str, Any]] | None = None
) -> bool:
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        for rule in (operator_rbac.rules() if rules is None else rules)
    )


@pytest.mark.parametrize("key", sorted(kube.RESOURCES), ids=lambda key: key[1])
def test_every_kind_the_operator_touches_is_granted(key: tuple[str, str]) -> None:
    target = kube.RESOURCES[key]
    if target.plural == "leases":
        # Never cluster-wide: a Role in the operator's own namespace grants it.
        assert not _allowed(target.group, target.plural, "get")
        for verb in ("get", "create", "update"):
            assert _allowed(target.group, target.plural, verb, operator_rbac.election_rules())
        return
    if target.group == "runestone.dev":
        verbs = ["get", "list", "watch"]
        assert _allowed(target.group, f"{target.plural}/status", "patch")
    elif target.plural == "events":
        verbs = ["create"]
    elif target.plural == "pods":
        verbs = ["get", "list", "watch"]
    else:
        verbs = ["get", "list", "create", "patch", "delete"]
    for verb in verbs:
        assert _allowed(target.group, target.plural, verb), (target.plural, verb)


def test_operator_can_grant_what_the_sidecar_needs() -> None:
    # RBAC refuses to create a Role granting more than its creator holds.
    assert _allowed("", "pods/status", "patch")
    assert _allowed("", "pods", "get")


def test_no_wildcards() -> None:
    for rule in operator_rbac.rules():
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"]


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
