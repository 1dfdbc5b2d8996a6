"""The gateway pods' identity grants only what the sidecar needs."""

from __future__ import annotations

from runestone_operator.builders import meta, rbac


def test_service_account(owner: meta.Owner) -> None:
    account = rbac.service_account(owner)
    assert account["metadata"]["name"] == "runestone-gateway-main"
    assert account["automountServiceAccountToken"] is False


def test_role_is_least_privilege(owner: meta.Owner) -> None:
    role = rbac.role(owner)
    assert role["metadata"]["name"] == "runestone-gateway-main"
    grants = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert grants == {("", "pods", "get"), ("", "pods/status", "get"), ("", "pods/status", "patch")}


def test_binding_ties_the_role_to_the_account(owner: meta.Owner) -> None:
    binding = rbac.role_binding(owner)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "runestone-gateway-main",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "runestone-gateway-main", "namespace": "team"}
    ]
