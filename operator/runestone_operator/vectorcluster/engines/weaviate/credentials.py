"""Who may connect to Weaviate with which key.

Weaviate checks API keys itself against `AUTHENTICATION_APIKEY_ALLOWED_KEYS`, a plaintext list,
with `AUTHENTICATION_APIKEY_USERS` naming, position by position, the user each key stands for.
Both live only in the credentials Secret, which reaches the members' environment through
secretKeyRefs. A replaced key stays in the list, under its user, until its grace period ends: its
plaintext is found again in the list the Secret holds now (the key Secret keeps only its hash).
Pure: users in, the Secret's data out."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from runestone_operator.vectorcluster import engine

ALLOWED_KEYS = "AUTHENTICATION_APIKEY_ALLOWED_KEYS"
USERS = "AUTHENTICATION_APIKEY_USERS"


def _sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _split(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def credentials(users: Sequence[engine.User], current: Mapping[str, str]) -> dict[str, str]:
    """The Secret's data: every user's key, then the replaced keys still valid (found by hash in
    `current`, the data the Secret holds now), each under its user."""
    known = {_sha256(key): key for key in _split(current.get(ALLOWED_KEYS, ""))}
    pairs = [(user.name, user.key) for user in users]
    for user in users:
        pairs += [(user.name, known[digest]) for digest in user.previous if digest in known]
    return {
        ALLOWED_KEYS: ",".join(key for _, key in pairs),
        USERS: ",".join(name for name, _ in pairs),
    }
