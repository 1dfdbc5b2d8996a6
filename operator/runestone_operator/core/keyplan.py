"""The API-key lifecycle, decided without I/O: which keys to keep, issue, rotate or revoke.

The plaintext of a key lives only in its own Secret `<owner>-key-<name>`, which is therefore the
source of truth: a key found there is reused, so restarting the operator never changes a key. A
rotation is requested with the owner's (a Gateway's, a VectorCluster's) annotation
`rotate-key.runestone.dev/<name>: <token>`; the token handled last is recorded on the key Secret,
which makes a rotation happen exactly once per new token. Each replaced key stays valid until its
own grace period ends, however many rotations follow it; only its hash is kept, in the annotation
`runestone.dev/previous-keys` (JSON).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from runestone_gateway import apikeys
from runestone_operator.core import names, timestamps

MAX_PREVIOUS_KEYS = 20
"""Replaced keys kept at most per key (the oldest go first): a bound on the annotation's size
should something rotate a key in a loop."""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class KeySpec(Protocol):
    """A key as a spec asks for it; only its name matters to the plan."""

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class PreviousKey:
    """A replaced key, accepted until `expires_at` (the end of its grace period)."""

    sha256: str
    expires_at: datetime.datetime


@dataclass(frozen=True)
class StoredKey:
    """What one key Secret holds."""

    name: str
    plaintext: str
    rotation_token: str | None = None
    rotated_at: datetime.datetime | None = None
    previous: tuple[PreviousKey, ...] = ()
    """Replaced keys still in their grace period, oldest first."""

    @property
    def sha256(self) -> str:
        return apikeys.digest(self.plaintext)

    @property
    def previous_expires_at(self) -> datetime.datetime | None:
        """When the last of the replaced keys stops being accepted."""
        return max((key.expires_at for key in self.previous), default=None)

    def __repr__(self) -> str:  # never show the plaintext, even in a traceback
        return f"StoredKey(name={self.name!r}, sha256={self.sha256[:12]}...)"


@dataclass(frozen=True)
class Plan:
    """The key Secrets that should exist, and what changed to get there."""

    keys: tuple[StoredKey, ...]
    issued: tuple[str, ...] = ()
    rotated: tuple[str, ...] = ()
    revoked: tuple[str, ...] = ()


def rotation_requests(annotations: Mapping[str, str]) -> dict[str, str]:
    """Key name -> requested rotation token, from the owner's annotations."""
    prefix = names.ROTATE_KEY_PREFIX
    return {
        key[len(prefix) :]: value
        for key, value in annotations.items()
        if key.startswith(prefix) and value
    }


def stored_from_secret(secret: Mapping[str, Any]) -> StoredKey | None:
    """The key a Secret holds, or None when it holds no well-formed key."""
    metadata = secret.get("metadata") or {}
    annotations: Mapping[str, str] = metadata.get("annotations") or {}
    labels: Mapping[str, str] = metadata.get("labels") or {}
    encoded = (secret.get("data") or {}).get(names.API_KEY_DATA_KEY)
    if not encoded:
        return None
    try:
        plaintext = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not apikeys.looks_like_key(plaintext):
        return None
    return StoredKey(
        name=labels.get(names.LABEL_API_KEY, ""),
        plaintext=plaintext,
        rotation_token=annotations.get(names.ROTATION_TOKEN),
        rotated_at=_instant(annotations.get(names.ROTATED_AT)),
        previous=parse_previous(annotations.get(names.PREVIOUS_KEYS)),
    )


def render_previous(previous: Sequence[PreviousKey]) -> str:
    """The `runestone.dev/previous-keys` annotation: a JSON list of hashes and expiries."""
    return json.dumps(
        [
            {"sha256": key.sha256, "expiresAt": timestamps.render(key.expires_at)}
            for key in previous
        ],
        separators=(",", ":"),
    )


def parse_previous(text: str | None) -> tuple[PreviousKey, ...]:
    """The replaced keys an annotation lists. Whatever is malformed (not JSON, not a list, an
    entry without a valid hash or expiry) is left out: the Secret's current key never depends
    on it, and a dropped old key fails safe (it is no longer accepted)."""
    if not text:
        return ()
    try:
        document = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(document, list):
        return ()
    found = []
    for item in document:
        if not isinstance(item, dict):
            continue
        sha256, expires = item.get("sha256"), item.get("expiresAt")
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            continue
        moment = _instant(expires) if isinstance(expires, str) else None
        if moment is not None:
            found.append(PreviousKey(sha256, moment))
    return tuple(found[-MAX_PREVIOUS_KEYS:])


def _instant(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        return timestamps.parse(text)
    except ValueError:
        return None


def plan(
    wanted: Sequence[KeySpec],
    stored: Mapping[str, StoredKey],
    existing: Iterable[str],
    requests: Mapping[str, str],
    *,
    now: datetime.datetime,
    grace: datetime.timedelta,
    generate: Callable[[], str] = apikeys.generate,
) -> Plan:
    """Decide the key state.

    `wanted` are the spec's keys; `stored` the keys read from their Secrets (by key name);
    `existing` the names of the keys the owner has issued (its status); `requests` the rotation
    tokens from its annotations.
    """
    now = timestamps.truncate(now)
    keys: list[StoredKey] = []
    issued: list[str] = []
    rotated: list[str] = []
    for spec in wanted:
        token = requests.get(spec.name)
        current = stored.get(spec.name)
        if current is None:
            keys.append(StoredKey(name=spec.name, plaintext=generate(), rotation_token=token))
            issued.append(spec.name)
            continue
        still_valid = tuple(key for key in current.previous if key.expires_at > now)
        current = replace(current, name=spec.name, previous=still_valid)
        if token is not None and token != current.rotation_token:
            replaced = PreviousKey(current.sha256, now + grace)
            current = StoredKey(
                name=spec.name,
                plaintext=generate(),
                rotation_token=token,
                rotated_at=now,
                previous=(*still_valid, replaced)[-MAX_PREVIOUS_KEYS:],
            )
            rotated.append(spec.name)
        keys.append(current)
    wanted_names = {spec.name for spec in wanted}
    revoked = sorted(set(existing) - wanted_names)
    return Plan(tuple(keys), tuple(issued), tuple(rotated), tuple(revoked))


def next_change(keys: Iterable[StoredKey]) -> datetime.datetime | None:
    """When the key table next changes by itself (the first replaced key's grace period ends)."""
    return min((old.expires_at for key in keys for old in key.previous), default=None)
