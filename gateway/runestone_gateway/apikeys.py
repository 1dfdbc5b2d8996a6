"""The API-key format shared by the operator (which issues keys) and the gateway (which checks
them): a fixed prefix that secret scanners can match, then 256 random bits. Only SHA-256 digests
of keys are ever stored or compared; the plaintext lives in the Secret handed to the key's owner.
"""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "rsk_"
"""Every Runestone API key starts with this; scanners and log scrubbers can match it."""

RANDOM_BYTES = 32
"""256 bits of randomness, base64url-encoded into 43 characters."""

KEY_PATTERN = re.compile(r"^rsk_[A-Za-z0-9_-]{43}$")


def generate() -> str:
    """A new API key."""
    return PREFIX + secrets.token_urlsafe(RANDOM_BYTES)


def digest(key: str) -> str:
    """The lowercase hex SHA-256 of a key, as the key table stores it."""
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(text: str) -> bool:
    """True for a string shaped like a Runestone key (used to keep keys out of logs)."""
    return bool(KEY_PATTERN.match(text))
