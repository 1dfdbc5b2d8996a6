"""Which Secrets a ProviderPool may send upstream: only those their owner labelled
`runestone.dev/provider-credential: "true"`, holding one header-safe token. Anything else is a
problem with a reason, whose message never carries the Secret's value."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from runestone_operator.core import conditions, models, references

REF = models.SecretKeySelector(name="creds", key="api-key")
LABEL = {"runestone.dev/provider-credential": "true"}


def secret(value: str | None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    data = {} if value is None else {"api-key": base64.b64encode(value.encode()).decode()}
    return {"metadata": {"name": "creds", "labels": labels or {}}, "data": data}


@pytest.mark.parametrize("value", ["sk-proj-abc_DEF-123", "sk-ant-x\n", "  tok/en+=  ", "a" * 4096])
def test_a_labelled_secret_with_one_token_is_a_credential(value: str) -> None:
    assert references.credential_problem(secret(value, LABEL), REF) is None


def test_a_missing_secret_or_key_or_value() -> None:
    missing = references.credential_problem(None, REF)
    assert missing == references.Problem(
        conditions.Reason.MISSING_SECRET, "Secret 'creds' does not exist"
    )
    no_key = references.credential_problem(secret(None, LABEL), REF)
    assert no_key is not None
    assert no_key.reason == conditions.Reason.MISSING_SECRET
    assert "has no key 'api-key'" in no_key.message
    empty = references.credential_problem(secret(" \n", LABEL), REF)
    assert empty is not None
    assert "is empty" in empty.message


@pytest.mark.parametrize("labels", [None, {"runestone.dev/provider-credential": "yes"}])
def test_a_secret_its_owner_did_not_mark_is_refused(labels: dict[str, str] | None) -> None:
    """Whoever may edit a ProviderPool may otherwise send any Secret of the namespace (a
    database password, a TLS key) to a base URL of their choosing."""
    problem = references.credential_problem(secret("sk-real", labels), REF)
    assert problem is not None
    assert problem.reason == "CredentialNotAllowed"
    assert 'runestone.dev/provider-credential: "true"' in problem.message
    assert "sk-real" not in problem.message


@pytest.mark.parametrize(
    "value",
    [
        "sk-a\r\nX-Injected: yes",
        "sk-a\nsk-b",
        "two words",
        "tab\tinside",
        "non-ascii-é",
        "nul\x00",
        "a" * 4097,
    ],
)
def test_a_value_that_is_not_one_header_safe_token_is_refused(value: str) -> None:
    """A line break in a key would add header lines to every upstream request."""
    problem = references.credential_problem(secret(value, LABEL), REF)
    assert problem is not None
    assert problem.reason == "InvalidCredential"
    assert "one header-safe token" in problem.message
    assert value.strip() not in problem.message
