"""A pod identity (the gateway's, a VectorCluster member's) grants only what the sidecar needs."""

from __future__ import annotations

from runestone_operator.core import meta
from runestone_operator.core.builders import identity
from runestone_operator.gateway import names

NAME = "runestone-gateway-main"


def _identity(owner: meta.Owner) -> list[meta.Manifest]:
    return identity.identity(owner, NAME, names.gateway_labels(owner.name), identity.SIDECAR_RULES)


def test_service_account(owner: meta.Owner) -> None:
    account, _, _ = _identity(owner)
    assert account["kind"] == "ServiceAccount"
    assert account["metadata"]["name"] == NAME
    assert account["metadata"]["labels"]["app.kubernetes.io/name"] == "runestone-gateway"
    assert account["automountServiceAccountToken"] is False


def test_role_is_least_privilege(owner: meta.Owner) -> None:
    _, role, _ = _identity(owner)
    assert role["metadata"]["name"] == NAME
    grants = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert grants == {("", "pods", "get"), ("", "pods/status", "get"), ("", "pods/status", "patch")}


def test_binding_ties_the_role_to_the_account(owner: meta.Owner) -> None:
    _, _, binding = _identity(owner)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": NAME,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": "team"}]
