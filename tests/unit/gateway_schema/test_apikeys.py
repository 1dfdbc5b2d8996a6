"""Keys are prefixed, carry at least 128 random bits, and are stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib

from runestone_gateway import apikeys


def test_keys_are_prefixed_random_and_unique() -> None:
    keys = {apikeys.generate() for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        assert key.startswith(apikeys.PREFIX)
        assert apikeys.looks_like_key(key)
        # 43 base64url characters carry 258 bits; at least 128 must be random.
        assert len(key) - len(apikeys.PREFIX) >= 22


def test_digest_is_lowercase_hex_sha256() -> None:
    key = apikeys.generate()
    assert apikeys.digest(key) == hashlib.sha256(key.encode()).hexdigest()
    assert apikeys.digest(key) != apikeys.digest(key + "x")
