"""Scaling: a new member joins; a scale-down that would take a shard's last replica with it is
refused (Degraded, with the shard named) and goes ahead once that shard has moved."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from devcluster import weaviate as wv
from devcluster.kube import eventually
from integration.vectorcluster import vectorclusters
from integration.vectorcluster.vectorclusters import COLLECTION, Clusters

NAME = "scale"
OBJECTS = 60


def _holders(member: wv.Client) -> dict[str, set[str]]:
    """Shard name -> nodes holding it."""
    found: dict[str, set[str]] = {}
    for node in member.nodes(verbose=True):
        for shard in node.get("shards") or []:
            if shard["class"] == COLLECTION:
                found.setdefault(shard["name"], set()).add(node["name"])
    return found


def _statefulset_replicas(api: client.ApiClient, namespace: str) -> int:
    sts = client.AppsV1Api(api).read_namespaced_stateful_set(NAME, namespace)
    return int(sts.spec.replicas)


def _moved(member: wv.Client, operation: str) -> bool:
    details: dict[str, Any] = member.ok("GET", f"/v1/replication/replicate/{operation}")
    state = details.get("status", {}).get("state")
    assert state != "CANCELLED", details
    return bool(state == "READY")


def _events(clusters: Clusters) -> list[str]:
    """Every Event of the namespace, oldest first: who replaced a member, and why."""
    events = clusters.core.list_namespaced_event(clusters.namespace).items
    events.sort(
        key=lambda e: str(e.last_timestamp or e.event_time or e.metadata.creation_timestamp)
    )
    return [
        f"{e.involved_object.kind}/{e.involved_object.name} {e.reason}: {e.message}" for e in events
    ]


@pytest.mark.timeout(1800)
def test_new_member_joins_and_scale_down_waits_for_the_last_replica_to_move(
    clusters: Clusters, kube_api: client.ApiClient
) -> None:
    names = [f"{NAME}-{i}" for i in range(6)]
    clusters.create(NAME, vectorclusters.spec(replicas=5, tls={"mode": "none"}))
    clusters.wait_condition(NAME, "Ready", "True", timeout=600)
    key = clusters.key(NAME, "gateway")
    first = clusters.member(NAME, names[0], key, tls=False)
    assert {n["name"] for n in first.nodes()} == set(names[:5])

    # Scale up: the sixth member joins (as a non-voter) without restarting the others.
    before = {p.metadata.name: p.metadata.uid for p in clusters.pods(NAME)}
    clusters.patch(NAME, {"spec": {"replicas": 6}})
    eventually(
        lambda: {n["name"] for n in first.nodes() if n["status"] == "HEALTHY"} == set(names),
        timeout=600,
        interval=2,
        what="the sixth member to join",
    )
    clusters.wait_condition(NAME, "Ready", "True", timeout=300)
    assert clusters.get(NAME)["status"]["readyReplicas"] == 6
    after = {p.metadata.name: p.metadata.uid for p in clusters.pods(NAME)}
    replaced = sorted(name for name, uid in before.items() if after.get(name) != uid)
    assert not replaced, (replaced, _events(clusters))

    # A collection without replication: one shard per member, the last one on scale-5 alone.
    first.create_collection(COLLECTION, replication_factor=1)
    first.insert(COLLECTION, vectorclusters.objects(OBJECTS))
    holders = _holders(first)
    stranded = [shard for shard, nodes in holders.items() if nodes == {names[5]}]
    assert stranded, holders
    assert first.count(COLLECTION) == OBJECTS

    clusters.patch(NAME, {"spec": {"replicas": 5}})
    degraded = clusters.wait_condition(
        NAME, "Degraded", "True", timeout=120, reason="ScaleDownRefused"
    )
    print("refused:", degraded["message"])
    assert f"{COLLECTION}/{stranded[0]}" in degraded["message"]
    assert names[5] in degraded["message"]
    time.sleep(10)  # several reconciles later, still refused and nothing removed
    assert _statefulset_replicas(kube_api, clusters.namespace) == 6
    assert len(clusters.pods(NAME)) == 6
    refusals = clusters.core.list_namespaced_event(
        clusters.namespace, field_selector=f"involvedObject.name={NAME},reason=ScaleDownRefused"
    ).items
    assert refusals
    assert refusals[0].type == "Warning"

    # Move the shard off the member that is to go; then the scale-down proceeds.
    for shard in stranded:
        operation = first.ok(
            "POST",
            "/v1/replication/replicate",
            {
                "collection": COLLECTION,
                "shard": shard,
                "sourceNode": names[5],
                "targetNode": names[0],
                "type": "MOVE",
            },
        )["id"]
        eventually(
            lambda op=operation: wv.wait_for(lambda: _moved(first, op)),  # type: ignore[misc]
            timeout=300,
            interval=2,
            what=f"shard {shard} to move",
        )
    clusters.wait_condition(NAME, "Degraded", "False", timeout=120)
    eventually(
        lambda: _statefulset_replicas(kube_api, clusters.namespace) == 5,
        timeout=60,
        what="the StatefulSet to shrink",
    )
    eventually(lambda: len(clusters.pods(NAME)) == 5, timeout=300, what="scale-5 to go")
    clusters.wait_condition(NAME, "Ready", "True", timeout=300)
    assert first.count(COLLECTION) == OBJECTS
    eventually(
        lambda: [m["pod"] for m in clusters.get(NAME)["status"]["members"]] == names[:5],
        timeout=60,
        what="status.members without scale-5",
    )
