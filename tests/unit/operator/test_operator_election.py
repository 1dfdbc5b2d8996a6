"""One leader-election round, decided the way client-go's tryAcquireOrRenew does: a missing
Lease is created, a released or expired one taken (one more transition), our own renewed (same
acquire time and transitions), another holder's live one left alone; every write carries the
resourceVersion it read. Timings that would let a lost leader outlive its lease are refused."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from runestone_operator.core import election

LOCK = election.Lock("ops", "runestone-operator", "me_1")
NOW = datetime.datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
TIMING = election.Timing()


def _lease(holder: str, transitions: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": election.API_VERSION,
        "kind": election.KIND,
        "metadata": {"name": LOCK.name, "namespace": LOCK.namespace, "resourceVersion": "41"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 10,
            "acquireTime": "2030-01-01T00:00:00.000000Z",
            "renewTime": "2030-01-02T03:04:00.000000Z",
            "leaseTransitions": transitions,
        },
    }


def test_a_missing_lease_is_created() -> None:
    decided = election.decide(LOCK, None, False, TIMING, NOW)
    assert decided.create
    assert decided.write is not None
    assert "resourceVersion" not in decided.write["metadata"]
    assert decided.write["spec"] == {
        "holderIdentity": "me_1",
        "leaseDurationSeconds": 8,
        "acquireTime": "2030-01-02T03:04:05.678901Z",
        "renewTime": "2030-01-02T03:04:05.678901Z",
        "leaseTransitions": 0,
    }


def test_another_holders_live_lease_is_left_alone() -> None:
    assert election.decide(LOCK, _lease("other_2"), True, TIMING, NOW).write is None


@pytest.mark.parametrize("holder", ["other_2", ""], ids=["expired", "released"])
def test_an_expired_or_released_lease_is_taken(holder: str) -> None:
    decided = election.decide(LOCK, _lease(holder), holder != "", TIMING, NOW)
    if holder:
        # Held elsewhere and live: not taken...
        assert decided.write is None
        # ...until the holder's record has stayed the same for its lease duration.
        decided = election.decide(LOCK, _lease(holder), False, TIMING, NOW)
    assert not decided.create
    assert decided.write is not None
    assert decided.write["metadata"]["resourceVersion"] == "41"
    spec = decided.write["spec"]
    assert spec["holderIdentity"] == "me_1"
    assert spec["acquireTime"] == spec["renewTime"] == "2030-01-02T03:04:05.678901Z"
    assert spec["leaseTransitions"] == 3


def test_our_own_lease_is_renewed() -> None:
    # Held by us: renewed whatever the caller thinks of its age.
    decided = election.decide(LOCK, _lease("me_1"), True, TIMING, NOW)
    assert decided.write is not None
    spec = decided.write["spec"]
    assert spec["acquireTime"] == "2030-01-01T00:00:00.000000Z"
    assert spec["renewTime"] == "2030-01-02T03:04:05.678901Z"
    assert spec["leaseTransitions"] == 2
    assert decided.write["metadata"]["resourceVersion"] == "41"


def test_default_timing_takes_over_within_fifteen_seconds() -> None:
    assert TIMING.worst_takeover < 15
    assert TIMING.renew_deadline < TIMING.lease_duration


@pytest.mark.parametrize(
    ("lease", "renew", "retry"),
    [(10, 10, 1), (10, 12, 1), (10, 7, 6), (10, 7, 0)],
    ids=["renew=lease", "renew>lease", "retry too long", "no retry"],
)
def test_timings_that_could_overlap_two_leaders_are_refused(
    lease: float, renew: float, retry: float
) -> None:
    with pytest.raises(ValueError, match="lease duration > renew deadline"):
        election.Timing(lease, renew, retry)
