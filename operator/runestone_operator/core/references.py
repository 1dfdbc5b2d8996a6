"""What a spec refers to, as only the operator can check it (the API server validates the rest):
Secrets and their keys, and other kinds' objects (read through a reader the app hands over, so
that kinds never import each other). And describing a refusal without echoing its input."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Protocol

import pydantic

from runestone_operator.core import kube, models, peers


def describe(error: pydantic.ValidationError) -> str:
    """A validation error without the offending input (it could be a secret)."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"])
        problems.append(f"{location}: {item['msg']}" if location else str(item["msg"]))
    return "; ".join(problems)


async def missing_secret(
    client: kube.Kube, namespace: str, ref: models.SecretKeySelector
) -> str | None:
    """Why `ref` cannot be mounted, or None when its Secret holds the key."""
    secret = await client.get("v1", "Secret", namespace, ref.name)
    if secret is None:
        return f"Secret {ref.name!r} does not exist"
    data = secret.get("data") or {}
    if ref.key not in data:
        return f"Secret {ref.name!r} has no key {ref.key!r}"
    value = data[ref.key]
    if not base64.b64decode(value or "").strip():
        return f"Secret {ref.name!r} key {ref.key!r} is empty"
    return None


class PoolReader(Protocol):
    async def __call__(self, client: kube.Kube, namespace: str, name: str) -> peers.PoolView | None:
        """The pool, or None when it does not exist; `core.context.Blocked` when it is
        invalid."""
        ...


async def credential_problems(
    client: kube.Kube, namespace: str, pools: Sequence[peers.PoolView]
) -> list[str]:
    """Why each provider key of `pools` cannot be mounted (empty when all can)."""
    problems = []
    for pool in pools:
        for credential in pool.credentials:
            why = await missing_secret(client, namespace, credential.ref)
            if why:
                problems.append(
                    f"{why} (apiKeySecretRef of provider {credential.provider!r} "
                    f"in pool {pool.name!r})"
                )
    return problems
