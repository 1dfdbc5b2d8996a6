"""What a spec refers to, as only the operator can check it (the API server validates the rest):
Secrets and their keys, and other kinds' objects (read through a reader the app hands over, so
that kinds never import each other). And describing a refusal without echoing its input.

A provider's credential is sent upstream, to a base URL whoever edits the ProviderPool chooses:
so only a Secret its owner labelled `runestone.dev/provider-credential: "true"` may be one, and
its value must be one header-safe token (a line break would add header lines to every request).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pydantic

from runestone_operator.core import conditions, kube, models, names, peers

MAX_CREDENTIAL_LENGTH = 4096
_HEADER_SAFE = re.compile(rf"[!-~]{{1,{MAX_CREDENTIAL_LENGTH}}}")
"""Visible ASCII, no space, tab or line break: one token in an Authorization or x-api-key header
(after the surrounding whitespace the gateway strips from secret files)."""


def describe(error: pydantic.ValidationError) -> str:
    """A validation error without the offending input (it could be a secret)."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"])
        problems.append(f"{location}: {item['msg']}" if location else str(item["msg"]))
    return "; ".join(problems)


@dataclass(frozen=True)
class Problem:
    """Why a referenced Secret cannot be used: a condition reason and a message (never the
    Secret's value)."""

    reason: str
    message: str


def _value(secret: Mapping[str, Any], key: str) -> bytes | None:
    """The key's value with surrounding whitespace stripped (as the gateway reads a secret
    file), None when the Secret has no such key or it is not base64."""
    encoded = (secret.get("data") or {}).get(key)
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded or "", validate=True).strip()
    except (binascii.Error, ValueError):
        return None


def secret_problem(secret: Mapping[str, Any] | None, ref: models.SecretKeySelector) -> str | None:
    """Why `ref` cannot be mounted, or None when its Secret holds a non-empty value there."""
    if secret is None:
        return f"Secret {ref.name!r} does not exist"
    value = _value(secret, ref.key)
    if value is None:
        return f"Secret {ref.name!r} has no key {ref.key!r}"
    if not value:
        return f"Secret {ref.name!r} key {ref.key!r} is empty"
    return None


async def missing_secret(
    client: kube.Kube, namespace: str, ref: models.SecretKeySelector
) -> str | None:
    """Why `ref` cannot be mounted, or None when its Secret holds the key."""
    return secret_problem(await client.get("v1", "Secret", namespace, ref.name), ref)


def credential_problem(
    secret: Mapping[str, Any] | None, ref: models.SecretKeySelector
) -> Problem | None:
    """Why `ref` cannot be a provider's credential (see the module's note), or None."""
    missing = secret_problem(secret, ref)
    if missing is not None:
        return Problem(conditions.Reason.MISSING_SECRET, missing)
    labels = ((secret or {}).get("metadata") or {}).get("labels") or {}
    if labels.get(names.LABEL_PROVIDER_CREDENTIAL) != "true":
        return Problem(
            conditions.Reason.CREDENTIAL_NOT_ALLOWED,
            f"Secret {ref.name!r} is not labelled "
            f'{names.LABEL_PROVIDER_CREDENTIAL}: "true"; only Secrets their owner marked so '
            "may be sent to a provider",
        )
    value = _value(secret or {}, ref.key) or b""
    if not _HEADER_SAFE.fullmatch(value.decode("latin-1")):
        return Problem(
            conditions.Reason.INVALID_CREDENTIAL,
            f"Secret {ref.name!r} key {ref.key!r} is not one header-safe token (visible ASCII "
            f"without spaces or line breaks, at most {MAX_CREDENTIAL_LENGTH} characters)",
        )
    return None


class PoolReader(Protocol):
    async def __call__(self, client: kube.Kube, namespace: str, name: str) -> peers.PoolView | None:
        """The pool, or None when it does not exist; `core.context.Blocked` when it is
        invalid."""
        ...


class VectorClusterReader(Protocol):
    async def __call__(
        self, client: kube.Kube, namespace: str, name: str
    ) -> peers.VectorClusterView | None:
        """The VectorCluster, or None when it does not exist."""
        ...


class LinkReader(Protocol):
    async def __call__(self, client: kube.Kube, namespace: str, name: str) -> list[str]:
        """The names of the Gateways (of `namespace`, not being deleted) whose
        `spec.vectorStores` references the VectorCluster `name`, sorted."""
        ...


async def credential_problems(
    client: kube.Kube, namespace: str, pools: Sequence[peers.PoolView]
) -> list[Problem]:
    """Why each provider key of `pools` cannot be used (empty when all can)."""
    problems = []
    for pool in pools:
        for credential in pool.credentials:
            secret = await client.get("v1", "Secret", namespace, credential.ref.name)
            problem = credential_problem(secret, credential.ref)
            if problem is not None:
                where = f"apiKeySecretRef of provider {credential.provider!r} in pool {pool.name!r}"
                problems.append(Problem(problem.reason, f"{problem.message} ({where})"))
    return problems


def summary(problems: Sequence[Problem]) -> Problem:
    """Several problems as one: the first one's reason, every message."""
    return Problem(problems[0].reason, "; ".join(problem.message for problem in problems))
