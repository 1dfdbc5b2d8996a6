"""VectorCluster decisions without I/O, whatever the engine: scale-down safety, the
rolling-restart order, backup ids, which member restores whose data, member status and the
pod-address mapping."""

from __future__ import annotations

import re
from typing import Any

from runestone_operator.vectorcluster import engine
from runestone_operator.vectorcluster import plan as vectorplan
from runestone_operator.vectorcluster.engines.weaviate import topology

# The shape of Weaviate 1.39's `/v1/nodes?output=verbose` (fields the decisions do not read
# trimmed). `docs-2` holds Article's shard "b" alone; "a" lives on docs-0 and docs-1.
NODES: dict[str, Any] = {
    "nodes": [
        {
            "name": "docs-0",
            "status": "HEALTHY",
            "version": "1.39.3",
            "stats": {"shardCount": 2, "objectCount": 40},
            "shards": [
                {"class": "Article", "name": "a", "objectCount": 20, "loaded": True},
                {"class": "Review", "name": "r", "objectCount": 20, "loaded": True},
            ],
        },
        {
            "name": "docs-1",
            "status": "HEALTHY",
            "shards": [{"class": "Article", "name": "a", "objectCount": 20}],
        },
        {
            "name": "docs-2",
            "status": "HEALTHY",
            "shards": [{"class": "Article", "name": "b", "objectCount": 20}],
        },
        {"name": "docs-3", "status": "HEALTHY", "shards": None},
    ]
}


# -- scale-down safety ----------------------------------------------------------------------------


def test_a_scale_down_removes_the_highest_ordinals() -> None:
    assert vectorplan.removed_members("docs", 7, 5) == {"docs-5", "docs-6"}
    assert vectorplan.removed_members("docs", 5, 5) == set()


def test_scale_down_is_refused_while_a_shard_would_lose_its_last_replica() -> None:
    shards = list(topology.topology(NODES).shards)
    message = vectorplan.scale_down_refusal("docs", 3, 2, shards)
    assert message is not None
    assert "1 shard(s) would lose their last replica" in message
    assert "Article/b (only on docs-2)" in message
    assert "from 3 to 2" in message


def test_scale_down_goes_ahead_when_every_shard_keeps_a_replica() -> None:
    shards = list(topology.topology(NODES).shards)
    # docs-3 holds nothing; docs-1's only shard also lives on docs-0.
    assert vectorplan.scale_down_refusal("docs", 4, 3, shards) is None
    moved = [*shards[:1], engine.Shard("Article", "b", frozenset({"docs-0", "docs-2"}))]
    assert vectorplan.scale_down_refusal("docs", 3, 2, moved) is None


def test_a_refusal_lists_five_shards_and_counts_the_rest() -> None:
    shards = [engine.Shard("C", f"s{i}", frozenset({"docs-6"})) for i in range(8)]
    message = vectorplan.scale_down_refusal("docs", 7, 6, shards)
    assert message is not None
    assert "8 shard(s)" in message
    assert message.count("(only on docs-6)") == 5
    assert "and 3 more" in message


# -- rolling restarts -----------------------------------------------------------------------------


def pod(
    name: str, revision: str = "new", ready: bool = True, deleting: bool = False
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {"controller-revision-hash": revision},
    }
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    state = "True" if ready else "False"
    return {
        "metadata": metadata,
        "status": {
            "conditions": [
                {"type": "ContainersReady", "status": "True"},
                {"type": "runestone.dev/member-ready", "status": state},
            ]
        },
    }


def test_member_pods_are_the_clusters_own_in_ordinal_order() -> None:
    members = vectorplan.member_pods(
        "docs",
        [pod("docs-10"), pod("docs-2", ready=False), pod("docs-backup-x"), pod("other-0")],
    )
    assert [(m.name, m.ordinal, m.ready) for m in members] == [
        ("docs-2", 2, False),
        ("docs-10", 10, True),
    ]


def test_a_member_counts_as_ready_only_with_its_gate_true() -> None:
    gated = pod("docs-0")
    gated["status"]["conditions"][1]["status"] = "False"
    gated["status"]["conditions"].append({"type": "Ready", "status": "True"})
    assert not vectorplan.member_pods("docs", [gated])[0].ready


def test_restarts_go_highest_ordinal_first() -> None:
    members = vectorplan.member_pods("docs", [pod(f"docs-{i}", revision="old") for i in range(3)])
    decision = vectorplan.next_restart(members, "new", 3)
    assert decision == vectorplan.Restart("docs-2", 3)
    assert not decision.done


def test_the_next_restart_waits_for_the_previous_member_to_be_back() -> None:
    for busy in (pod("docs-2", ready=False), pod("docs-2", deleting=True)):
        pods = [pod("docs-0", "old"), pod("docs-1", "old"), busy]
        decision = vectorplan.next_restart(vectorplan.member_pods("docs", pods), "new", 3)
        assert decision.pod is None
        assert decision.waiting_for == "docs-2"
        assert decision.outdated == 2


def test_the_next_restart_waits_for_missing_members() -> None:
    members = vectorplan.member_pods("docs", [pod("docs-0", "old"), pod("docs-1")])
    decision = vectorplan.next_restart(members, "new", 3)
    assert decision.pod is None
    assert decision.waiting_for == "1 member(s) to be created"


def test_a_rollout_is_done_when_every_wanted_member_runs_the_new_revision() -> None:
    # docs-3 is on its way out (a scale-down): its revision does not matter.
    pods = [pod("docs-0"), pod("docs-1"), pod("docs-2"), pod("docs-3", "old")]
    decision = vectorplan.next_restart(vectorplan.member_pods("docs", pods), "new", 3)
    assert decision.done
    assert decision.pod is None


# -- backups --------------------------------------------------------------------------------------


def test_a_backup_id_is_stable_per_token_and_valid_for_weaviate() -> None:
    first = vectorplan.backup_id("docs", "2026-05-01T03:00:00Z")
    assert first == vectorplan.backup_id("docs", "2026-05-01T03:00:00Z")
    assert first != vectorplan.backup_id("docs", "2026-05-02T03:00:00Z")
    assert re.fullmatch(r"[a-z0-9-]+", first)
    assert first.startswith("docs-2026-05-01t03-00-00z-")


def test_a_backup_id_of_an_awkward_token_stays_short_and_distinct() -> None:
    long = vectorplan.backup_id("docs", "x" * 500)
    assert len(long) <= len("docs") + 1 + 40 + 1 + 8
    assert re.fullmatch(r"[a-z0-9-]+", vectorplan.backup_id("docs", "!!!"))
    assert vectorplan.backup_id("docs", "!!!") != vectorplan.backup_id("docs", "???")


def test_a_restore_maps_each_source_member_to_the_new_member_of_its_ordinal() -> None:
    assert vectorplan.restore_members("docs", "copy", 3) == {
        "docs-0": "copy-0",
        "docs-1": "copy-1",
        "docs-2": "copy-2",
    }
    assert vectorplan.restore_members("docs", "docs", 1) == {"docs-0": "docs-0"}


# -- status ---------------------------------------------------------------------------------------


def test_members_report_readiness_and_the_shards_weaviate_places_on_them() -> None:
    members = vectorplan.member_pods("docs", [pod("docs-0"), pod("docs-4", ready=False)])
    status = vectorplan.members_status(members, topology.topology(NODES))
    assert [(m.pod, m.ready, m.shards) for m in status] == [
        ("docs-0", True, 2),
        ("docs-4", False, None),  # not (yet) in Weaviate's answer
    ]
    assert [m.shards for m in vectorplan.members_status(members, None)] == [None, None]
