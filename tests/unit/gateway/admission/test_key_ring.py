"""API-key checks: where keys are read from, 401 for missing, unknown and disabled keys, 403 for
expired keys and models outside the allow-list, and what the key ring exports for metrics."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from runestone_gateway import apikeys, config, errors
from runestone_gateway.admission import auth

NOW = datetime.datetime(2026, 5, 14, 12, 0, tzinfo=datetime.UTC)


def entry(key: str, **fields: Any) -> config.KeyTableEntry:
    return config.KeyTableEntry.model_validate(
        {"id": "team", "sha256": apikeys.digest(key), **fields}
    )


def ring(*entries: config.KeyTableEntry) -> auth.KeyRing:
    return auth.KeyRing.from_table(config.KeyTable(keys=list(entries)))


def refusal(
    keys: auth.KeyRing, authorization: bytes | None = None, x_api_key: bytes | None = None
) -> errors.GatewayError:
    with pytest.raises(errors.GatewayError) as raised:
        keys.authenticate(authorization, x_api_key, now=NOW.timestamp())
    return raised.value


def test_bearer_and_x_api_key_are_both_accepted() -> None:
    key = apikeys.generate()
    keys = ring(entry(key))
    now = NOW.timestamp()
    assert keys.authenticate(f"Bearer {key}".encode(), None, now=now).id == "team"
    assert keys.authenticate(f"bearer  {key} ".encode(), None, now=now).id == "team"
    assert keys.authenticate(None, key.encode(), now=now).id == "team"


@pytest.mark.parametrize(
    ("authorization", "x_api_key"),
    [
        (None, None),
        (b"", b""),
        (b"Basic dXNlcjpwYXNz", None),
        (b"Bearer ", None),
        (b"Bearer " + b"a" * 5000, None),
        (None, b"   "),
    ],
)
def test_missing_keys_get_401(authorization: bytes | None, x_api_key: bytes | None) -> None:
    error = refusal(ring(entry(apikeys.generate())), authorization, x_api_key)
    assert (error.status, error.type, error.code) == (
        401,
        "authentication_error",
        "invalid_api_key",
    )
    assert "Missing API key" in error.message


def test_unknown_and_disabled_keys_look_the_same() -> None:
    live, off = apikeys.generate(), apikeys.generate()
    keys = ring(entry(live), entry(off, id="off", disabled=True))
    unknown = refusal(keys, f"Bearer {live}x".encode())
    disabled = refusal(keys, None, off.encode())
    assert (unknown.status, unknown.message) == (disabled.status, disabled.message)
    assert unknown.status == 401
    assert live not in unknown.message


def test_authorization_wins_over_x_api_key() -> None:
    good, other = apikeys.generate(), apikeys.generate()
    keys = ring(entry(good))
    assert refusal(keys, f"Bearer {other}".encode(), good.encode()).status == 401


def test_an_expired_key_gets_403() -> None:
    key = apikeys.generate()
    keys = ring(entry(key, expiresAt=NOW.isoformat()))
    error = refusal(keys, f"Bearer {key}".encode())
    assert (error.status, error.type, error.code) == (403, "permission_error", "key_expired")
    earlier = (NOW - datetime.timedelta(seconds=1)).timestamp()
    assert keys.authenticate(f"Bearer {key}".encode(), None, now=earlier).id == "team"


def test_the_model_allow_list() -> None:
    key = apikeys.generate()
    some = ring(entry(key, models=["a", "b"])).authenticate(
        f"Bearer {key}".encode(), None, now=NOW.timestamp()
    )
    auth.check_model(some, "a")
    with pytest.raises(errors.GatewayError) as raised:
        auth.check_model(some, "c")
    assert (raised.value.status, raised.value.code, raised.value.param) == (
        403,
        "model_not_allowed",
        "model",
    )
    every = auth.principal(entry(key))
    auth.check_model(every, "anything")


def test_a_key_with_the_same_digest_prefix_is_still_refused() -> None:
    key = apikeys.generate()
    keys = ring(entry(key))
    assert keys.find(key.encode()) is not None
    assert keys.find(key[:-1].encode()) is None


def test_a_key_seen_again_is_checked_as_strictly() -> None:
    """The second sight of a key takes the remembered path: it must give the same verdicts."""
    key, off, spent = apikeys.generate(), apikeys.generate(), apikeys.generate()
    keys = ring(
        entry(key),
        entry(off, id="off", disabled=True),
        entry(spent, id="spent", expiresAt=NOW.isoformat()),
    )
    for _ in range(2):
        assert keys.authenticate(f"Bearer {key}".encode(), None, now=NOW.timestamp()).id == "team"
        assert refusal(keys, f"Bearer {off}".encode()).status == 401
        assert refusal(keys, f"Bearer {spent}".encode()).code == "key_expired"
        assert refusal(keys, f"Bearer {key[:-1]}".encode()).status == 401


def test_only_keys_of_the_table_are_remembered() -> None:
    """Unknown keys, however many, leave nothing behind; each table key at most one entry."""
    key = apikeys.generate()
    keys = ring(entry(key))
    for _ in range(100):
        assert keys.find(apikeys.generate().encode()) is None
    for _ in range(3):
        assert keys.find(key.encode()) is not None
    assert len(keys._memo) == 1
    assert key.encode() not in repr(keys._memo).encode()


def test_a_reload_forgets_what_the_old_ring_remembered() -> None:
    key = apikeys.generate()
    assert ring(entry(key)).find(key.encode()) is not None
    reloaded = ring(entry(key, disabled=True))
    assert refusal(reloaded, f"Bearer {key}".encode()).status == 401


def test_expiries_and_budgets_per_key_id() -> None:
    new, old, forever, off = (apikeys.generate() for _ in range(4))
    later = NOW + datetime.timedelta(days=30)
    keys = ring(
        entry(new, expiresAt=later.isoformat(), budget={"usd": "12.5"}),
        entry(old, expiresAt=NOW.isoformat(), budget={"usd": "12.5"}),  # rotated out
        entry(forever, id="forever"),
        entry(off, id="off", expiresAt=NOW.isoformat(), disabled=True),
    )
    assert keys.expiries() == {"team": later.timestamp()}
    assert keys.budgets() == {"team": 12.5}


def test_limited_means_any_limit_or_a_budget() -> None:
    key = apikeys.generate()
    assert not auth.principal(entry(key)).limited
    assert auth.principal(entry(key, limits={"requestsPerMinute": 5})).limited
    assert auth.principal(entry(key, budget={"usd": "1"})).limited
    assert auth.principal(entry(key, tenant="ns/gw")).scope == "ns/gw/team"
