"""A store's expiry from its record: `expires_at` from the last use and the policy, what a use
changes (the sweeper looks for `expiresAt`), and the refusal of an expired store's use."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_gateway import errors
from runestone_gateway.retrieval import records, stores

DAY = 86400


def record(**extra: Any) -> dict[str, Any]:
    return {"storeId": "vs_1", "createdUs": 1_000 * 1_000_000, **extra}


def test_without_a_policy_a_store_never_expires() -> None:
    found = record(lastActiveAt=2_000)
    assert stores.expires_at(found) is None
    assert not stores.expired(found, now=10**12)
    assert stores.activity(found, 5_000) == {"lastActiveAt": 5_000, "expiresAt": 0, "sweptAt": 0}


def test_a_use_moves_the_expiry_on() -> None:
    policy = records.dumps({"anchor": "last_active_at", "days": 2})
    found = record(lastActiveAt=2_000, expiresAfter=policy)
    assert stores.expires_at(found) == 2_000 + 2 * DAY
    assert stores.expired(found, now=2_000 + 2 * DAY)
    assert not stores.expired(found, now=2_000 + 2 * DAY - 1)
    used = {**found, **stores.activity(found, 9_000)}
    assert used["expiresAt"] == 9_000 + 2 * DAY
    assert not stores.expired(used, now=2_000 + 2 * DAY)


def test_the_last_use_defaults_to_the_creation() -> None:
    policy = records.dumps({"anchor": "last_active_at", "days": 1})
    assert stores.expires_at(record(expiresAfter=policy)) == 1_000 + DAY


def test_a_swept_store_stays_expired() -> None:
    assert stores.expired(record(sweptAt=5), now=0)


def test_an_expired_stores_use_is_refused_by_name() -> None:
    policy = records.dumps({"anchor": "last_active_at", "days": 1})
    with pytest.raises(errors.GatewayError) as refused:
        stores.check_usable(record(lastActiveAt=1, expiresAfter=policy))
    assert (refused.value.status, refused.value.code) == (400, "vector_store_expired")
    assert "vs_1" in refused.value.message
    stores.check_usable(record(lastActiveAt=10**12, expiresAfter=policy))


def test_a_use_within_a_step_of_the_last_writes_nothing() -> None:
    """Searches of a busy store are reads only; its record moves on once a step has passed."""
    found = record(lastActiveAt=2_000)
    assert not stores.activity_due(found, 2_000)
    assert not stores.activity_due(found, 2_000 + stores.ACTIVITY_STEP - 1)
    assert stores.activity_due(found, 2_000 + stores.ACTIVITY_STEP)
    assert stores.activity_due(record(), 1_000 + stores.ACTIVITY_STEP)


def test_recent_records_are_kept_for_their_owner_a_while_and_forgotten_on_change() -> None:
    recent = stores.Recent(ttl=2.0, size=2)
    recent.put("key-a", "vs_1", record(), now=100.0)
    assert recent.get("key-a", "vs_1", now=101.9) == record()
    assert recent.get("key-b", "vs_1", now=101.0) is None  # another key reads it itself
    assert recent.get("key-a", "vs_1", now=102.0) is None  # too old
    recent.put("key-a", "vs_1", record(), now=200.0)
    recent.forget("vs_1")
    assert recent.get("key-a", "vs_1", now=200.0) is None
    for n in range(3):
        recent.put("key-a", f"vs_{n}", record(), now=300.0)
    assert recent.get("key-a", "vs_0", now=300.0) is None  # the oldest made room
    assert recent.get("key-a", "vs_2", now=300.0) is not None
