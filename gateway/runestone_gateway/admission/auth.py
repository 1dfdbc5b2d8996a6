"""API keys: who is calling, and may they use this model now.

Keys arrive in `Authorization: Bearer <key>` (OpenAI's SDKs) or `x-api-key: <key>` (Anthropic's).
The gateway never holds a plaintext key: the key table names keys by their SHA-256 digest, and a
presented key is digested at once. Digests are found through a table keyed by a per-process
secret (BLAKE2b keyed hash of the digest), so the table's lookup timing tells a caller nothing it
could use, and the match is confirmed with `hmac.compare_digest`. A key once confirmed is
remembered for the config generation by a keyed BLAKE2b tag of the key itself (another
per-process secret): a key seen again costs one short hash and a lookup instead of SHA-256, a
second hash and the compare. Only keys of the table are remembered, so unknown keys cannot grow
it, and a reload (a key disabled, rotated or removed) starts a new, empty memo.

Outcomes follow the errors contract (docs/architecture.md): no key, an unknown key or a disabled
key is 401 (all three look the same to the caller); an expired key, or a model outside the key's
allow-list, is 403.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from runestone_gateway import config, errors

MAX_KEY_BYTES = 512
WILDCARD = "*"
GENERATED_KEY_ID = "generated"
"""The id of the key the gateway generates when its config names no key table."""


@dataclass(frozen=True, slots=True)
class Principal:
    """One accepted key as the request path sees it. `scope` names its limit counters."""

    id: str
    tenant: str
    sha256: str
    models: frozenset[str] | None  # None: every model
    limits: config.KeyLimits
    budget: config.KeyBudget | None
    expires_at: float | None  # Unix seconds
    disabled: bool
    scope: str = ""
    """Limits and budgets are kept per key id within a tenant (rotation keeps the id)."""
    limited: bool = False
    """Whether any limit or a budget applies (else the limiter is skipped)."""

    def __post_init__(self) -> None:
        limits = self.limits
        limited = self.budget is not None or any(
            (limits.requests_per_minute, limits.tokens_per_minute, limits.max_concurrent_requests)
        )
        object.__setattr__(self, "scope", f"{self.tenant}/{self.id}")
        object.__setattr__(self, "limited", limited)

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models


def principal(entry: config.KeyTableEntry) -> Principal:
    models = None if WILDCARD in entry.models else frozenset(entry.models)
    expires = entry.expires_at.timestamp() if entry.expires_at is not None else None
    return Principal(
        id=entry.id,
        tenant=entry.tenant or "",
        sha256=entry.sha256,
        models=models,
        limits=entry.limits,
        budget=entry.budget,
        expires_at=expires,
        disabled=entry.disabled,
    )


def generated(digest: str) -> Principal:
    """The start-up key of a gateway without a key table: every model, no limits."""
    return Principal(
        id=GENERATED_KEY_ID,
        tenant="",
        sha256=digest,
        models=None,
        limits=config.KeyLimits(),
        budget=None,
        expires_at=None,
        disabled=False,
    )


class KeyRing:
    """The accepted keys of one config generation."""

    __slots__ = ("_by_tag", "_memo", "_memo_secret", "_secret", "principals")

    def __init__(self, principals: Iterable[Principal]) -> None:
        self._secret = os.urandom(32)
        self._memo_secret = os.urandom(32)
        self.principals = tuple(principals)
        self._by_tag = {self._tag(p.sha256): p for p in self.principals}
        self._memo: dict[bytes, Principal] = {}
        """Confirmed keys by their keyed tag; at most one entry per principal."""

    @classmethod
    def from_table(cls, table: config.KeyTable) -> KeyRing:
        return cls(principal(entry) for entry in table.keys)

    def _tag(self, digest: str) -> bytes:
        return hashlib.blake2b(digest.encode(), key=self._secret, digest_size=16).digest()

    def find(self, key: bytes) -> Principal | None:
        """The entry for a presented key, disabled or not; None for an unknown key."""
        tag = hashlib.blake2b(key, key=self._memo_secret, digest_size=32).digest()
        found = self._memo.get(tag)
        if found is not None:
            return found
        digest = hashlib.sha256(key).hexdigest()
        found = self._by_tag.get(self._tag(digest))
        if found is None or not hmac.compare_digest(found.sha256, digest):
            return None
        self._memo[tag] = found
        return found

    def authenticate(
        self, authorization: bytes | None, x_api_key: bytes | None, now: float | None = None
    ) -> Principal:
        """The caller's key, or 401 / 403 as a GatewayError."""
        key = presented_key(authorization, x_api_key)
        if key is None:
            raise errors.unauthorized(
                "Missing API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
            )
        found = self.find(key)
        if found is None or found.disabled:
            raise errors.unauthorized("Invalid API key.")
        if now is None:
            now = time.time()
        if found.expires_at is not None and now >= found.expires_at:
            raise errors.forbidden(f"The API key {found.id!r} has expired.", code="key_expired")
        return found

    def expiries(self) -> dict[str, float]:
        """Per key id the latest expiry among its usable entries; ids with a key that never
        expires are left out (during a rotation the old key's earlier expiry is planned)."""
        latest: dict[str, float | None] = {}
        for entry in self.principals:
            if entry.disabled:
                continue
            seen = latest.get(entry.id, 0.0)
            if entry.expires_at is None or seen is None:
                latest[entry.id] = None
            else:
                latest[entry.id] = max(seen, entry.expires_at)
        return {key_id: when for key_id, when in latest.items() if when is not None}

    def budgets(self) -> dict[str, float]:
        """Per key id its budget in US dollars (keys of one id share their budget)."""
        return {p.id: float(p.budget.usd) for p in self.principals if p.budget is not None}


def presented_key(authorization: bytes | None, x_api_key: bytes | None) -> bytes | None:
    """The key a request carries, or None. `Authorization` wins when both are sent."""
    if authorization:
        scheme, _, value = authorization.partition(b" ")
        if scheme.lower() == b"bearer":
            value = value.strip()
            if value and len(value) <= MAX_KEY_BYTES:
                return value
        return None
    if x_api_key:
        value = x_api_key.strip()
        if value and len(value) <= MAX_KEY_BYTES:
            return value
    return None


def check_model(who: Principal, model: str) -> None:
    if not who.allows(model):
        raise errors.forbidden(
            f"The API key {who.id!r} is not allowed to use the model {model!r}.",
            code="model_not_allowed",
            param="model",
        )
