"""The operator's ClusterRole covers everything the operator reads and writes."""

from __future__ import annotations

import pytest

from runestone_operator.core import kube, operator_rbac


def _allowed(group: str, resource: str, verb: str) -> bool:
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        for rule in operator_rbac.rules()
    )


@pytest.mark.parametrize("key", sorted(kube.RESOURCES), ids=lambda key: key[1])
def test_every_kind_the_operator_touches_is_granted(key: tuple[str, str]) -> None:
    target = kube.RESOURCES[key]
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
