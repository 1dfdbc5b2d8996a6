"""API-key checks. Deliberately small until the keys issue lands: a key is accepted when the
SHA-256 of its plaintext is in the set built from the key table (and, without a key table, the
one key generated at start-up). Authentication is never off.

Keys are compared only as digests; the key format lives in `apikeys`.
"""

from __future__ import annotations

import hashlib

MAX_HEADER_BYTES = 1024


class KeyCheck:
    __slots__ = ("_digests",)

    def __init__(self, digests: frozenset[str]) -> None:
        self._digests = digests

    def accepts(self, authorization: bytes | None) -> bool:
        """Whether an `Authorization: Bearer <key>` header value carries an accepted key."""
        if not authorization or len(authorization) > MAX_HEADER_BYTES:
            return False
        scheme, _, key = authorization.partition(b" ")
        if scheme.lower() != b"bearer":
            return False
        key = key.strip()
        return bool(key) and hashlib.sha256(key).hexdigest() in self._digests
