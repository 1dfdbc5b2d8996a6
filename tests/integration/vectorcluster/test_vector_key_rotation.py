"""A VectorCluster's key is rotated the way a Gateway's is (the one key step both run): the
annotation `rotate-key.runestone.dev/<key>` issues a new key, and the old one stays valid for
`spec.keyRotation.gracePeriod`. Weaviate reads its keys only at start, so the members roll onto
each change: after the rotation every member takes both keys, and a client that keeps using the
old key through the grace period sees no failure; once it ends, every member refuses it."""

from __future__ import annotations

import datetime
import time

import pytest

from devcluster.kube import eventually
from integration.vectorcluster import vectorclusters
from integration.vectorcluster.vectorclusters import COLLECTION, Clusters, Load

NAME = "rotkey"
GRACE = datetime.timedelta(seconds=180)
"""Longer than a rolling restart of three members here (about a minute), so that members
restarted with both keys are queried with the old one too."""
OBJECTS = 40


def _members() -> list[str]:
    return [f"{NAME}-{i}" for i in range(3)]


def _roll_done(clusters: Clusters, timeout: float = 120) -> None:
    clusters.wait_condition(NAME, "Progressing", "True", timeout=timeout, reason="RollingOut")
    clusters.wait_condition(NAME, "Progressing", "False", timeout=600)
    clusters.wait_condition(NAME, "Ready", "True", timeout=300)


def _replaced(clusters: Clusters, old: str) -> str:
    key = clusters.key(NAME, "gateway")
    return key if key != old else ""


def _status(clusters: Clusters) -> dict[str, str]:
    keys = clusters.get(NAME)["status"].get("apiKeys") or []
    return next(k for k in keys if k["name"] == "gateway")


@pytest.mark.timeout(1800)
def test_the_old_key_works_through_its_grace_period_and_not_after(clusters: Clusters) -> None:
    grace = f"{int(GRACE.total_seconds())}s"
    clusters.create(
        NAME, vectorclusters.spec(replicationFactor=3, keyRotation={"gracePeriod": grace})
    )
    clusters.wait_condition(NAME, "Ready", "True", timeout=400)
    old = clusters.key(NAME, "gateway")
    admin = clusters.member(NAME, f"{NAME}-0", old)
    admin.create_collection(COLLECTION, replication_factor=3)
    admin.insert(COLLECTION, vectorclusters.objects(OBJECTS))
    vectorclusters.wait_indexed(admin)
    ids = admin.object_ids(COLLECTION)
    assert "previousKeyExpiresAt" not in _status(clusters)

    # A client that goes on using the old key, through the client Service's ready endpoints.
    load = Load(clusters, NAME, old, ids)
    with load.running():
        time.sleep(3)
        rotated = datetime.datetime.now(datetime.UTC)
        clusters.annotate(NAME, "rotate-key.runestone.dev/gateway", "first")
        new: str = eventually(
            lambda: _replaced(clusters, old), timeout=60, what="the new key in its Secret"
        )
        expiry = eventually(
            lambda: _status(clusters).get("previousKeyExpiresAt", ""),
            timeout=60,
            what="the rotation in status.apiKeys",
        )
        expires = datetime.datetime.fromisoformat(expiry)
        assert rotated + GRACE - datetime.timedelta(seconds=2) <= expires
        assert expires <= rotated + GRACE + datetime.timedelta(seconds=30)
        _roll_done(clusters)
        rolled = datetime.datetime.now(datetime.UTC)
        print(f"members on both keys {(rolled - rotated).total_seconds():.0f}s after the rotation")
        assert rolled < expires, "the roll took longer than the grace period"
        # Every member, restarted since, takes both keys.
        for pod in _members():
            assert clusters.member(NAME, pod, new).count(COLLECTION) == OBJECTS
            assert clusters.member(NAME, pod, old).count(COLLECTION) == OBJECTS
        # The old key goes on working until its grace period is nearly over.
        time.sleep(max((expires - datetime.datetime.now(datetime.UTC)).total_seconds() - 5, 0))
    print(f"{load.sent} queries with the old key, {len(load.failed)} failed")
    for failure in load.failed[:20]:
        print("  failed:", failure)
    assert load.failed == []
    assert load.sent > 300

    # When the grace period ends the old key leaves the members' list, and they roll once more.
    _roll_done(clusters, timeout=GRACE.total_seconds())
    for pod in _members():
        refused = clusters.member(NAME, pod, old).request(
            "GET", f"/v1/objects/{COLLECTION}/{ids[0]}"
        )
        assert refused.status_code == 401, (pod, refused.status_code, refused.text[:200])
        assert clusters.member(NAME, pod, new).count(COLLECTION) == OBJECTS
    assert "previousKeyExpiresAt" not in _status(clusters)
    rotations = clusters.core.list_namespaced_event(
        clusters.namespace, field_selector=f"involvedObject.name={NAME},reason=KeyRotated"
    ).items
    assert [str(e.message) for e in rotations] == [
        f"rotated API key 'gateway'; the previous key stays valid for {int(GRACE.total_seconds())}s"
    ]
