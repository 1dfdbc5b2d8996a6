"""A version change, then a restart request, rolls the members one at a time, each only after the
previous one is back in the cluster with its gate True, while clients keep querying through the
ready endpoints; the failed queries are counted (target 0)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from devcluster import versions
from devcluster.kube import eventually
from integration.vectorcluster import vectorclusters
from integration.vectorcluster.vectorclusters import COLLECTION, Clusters, Load

NAME = "roll"
OLD = versions.WEAVIATE_PREVIOUS.version.removeprefix("v")
NEW = versions.WEAVIATE.version.removeprefix("v")


def _restart_events(core: client.CoreV1Api, namespace: str) -> list[str]:
    found = core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={NAME},reason=MemberRestarted"
    ).items
    ordered = sorted(found, key=lambda e: e.first_timestamp or e.event_time or e.metadata.name)
    return [str(e.message) for e in ordered]


def _versions(clusters: Clusters, key: str) -> dict[str, str]:
    nodes = clusters.member(NAME, "roll-0", key).nodes()
    return {str(n["name"]): str(n.get("version")) for n in nodes}


def _roll_under_load(
    clusters: Clusters, key: str, ids: list[str], change: dict[str, Any], what: str
) -> Load:
    """Apply `change` to the VectorCluster while clients query; wait for the roll to finish."""
    load = Load(clusters, NAME, key, ids)
    with load.running():
        time.sleep(5)
        started = time.monotonic()
        clusters.patch(NAME, change)
        clusters.wait_condition(NAME, "Progressing", "True", timeout=60, reason="RollingOut")
        clusters.wait_condition(NAME, "Progressing", "False", timeout=600)
        clusters.wait_condition(NAME, "Ready", "True", timeout=300)
        took = time.monotonic() - started
        time.sleep(5)
    print(
        f"{what} of 3 members took {took:.0f}s; {load.sent} queries, {len(load.failed)} failed; "
        f"fewest ready endpoints {load.fewest_ready}"
    )
    for failure in load.failed[:20]:
        print("  failed:", failure)
    return load


@pytest.mark.timeout(1500)
def test_version_change_and_restart_roll_members_one_at_a_time_under_query_load(
    clusters: Clusters,
) -> None:
    clusters.create(NAME, vectorclusters.spec(version=OLD, replicationFactor=3))
    clusters.wait_condition(NAME, "Ready", "True", timeout=400)
    key = clusters.key(NAME, "gateway")
    admin = clusters.member(NAME, "roll-0", key)
    admin.create_collection(COLLECTION, replication_factor=3)
    admin.insert(COLLECTION, vectorclusters.objects(60))
    vectorclusters.wait_indexed(admin)
    assert set(_versions(clusters, key).values()) == {OLD}
    ids = admin.object_ids(COLLECTION)

    upgrade = _roll_under_load(
        clusters, key, ids, {"spec": {"version": NEW}}, f"rolling upgrade {OLD} -> {NEW}"
    )
    assert eventually(
        lambda: set(_versions(clusters, key).values()) == {NEW}, timeout=60, what="nodes on NEW"
    )
    restarts = _restart_events(clusters.core, clusters.namespace)
    print("restart events:", restarts)
    assert [m.split()[2] for m in restarts] == ["roll-2", "roll-1", "roll-0"]

    # A restart request (a new value of the annotation) rolls the members the same way.
    before = {p.metadata.name: p.metadata.uid for p in clusters.pods(NAME)}
    restart = _roll_under_load(
        clusters,
        key,
        ids,
        {"metadata": {"annotations": {"runestone.dev/restart": "after-upgrade"}}},
        "rolling restart",
    )
    after = {p.metadata.name: p.metadata.uid for p in clusters.pods(NAME)}
    assert set(after) == set(before)
    assert all(after[pod] != uid for pod, uid in before.items())
    restarts = _restart_events(clusters.core, clusters.namespace)
    assert [m.split()[2] for m in restarts] == ["roll-2", "roll-1", "roll-0"] * 2

    assert clusters.member(NAME, "roll-1", key).count(COLLECTION) == 60
    for load in (upgrade, restart):
        assert load.fewest_ready >= 2  # never more than one member out of the Service at once
        assert load.sent > 100
        assert load.failed == []
