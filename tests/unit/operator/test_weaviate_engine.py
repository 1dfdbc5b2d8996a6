"""What the Weaviate engine decides without I/O: Raft voters and joins, which scale-downs its own
membership forbids, the cluster's topology from `/v1/nodes`, and who may connect with which key
(a replaced key kept, under its user, until its grace period ends)."""

from __future__ import annotations

import hashlib
import typing
from typing import Any

import pytest

from runestone_operator.vectorcluster import engine, engines
from runestone_operator.vectorcluster import model as vectorcluster
from runestone_operator.vectorcluster.engines import weaviate
from runestone_operator.vectorcluster.engines.weaviate import credentials, members, topology

NODES: dict[str, Any] = {
    "nodes": [
        {
            "name": "docs-0",
            "status": "HEALTHY",
            "shards": [
                {"class": "Article", "name": "a", "objectCount": 20},
                {"class": "Review", "name": "r", "objectCount": 20},
            ],
        },
        {"name": "docs-1", "shards": [{"class": "Article", "name": "a"}]},
        {"name": "docs-2", "shards": [{"class": "Article", "name": "b"}]},
        {"name": "docs-3", "status": "HEALTHY", "shards": None},
    ]
}


def test_the_registry_offers_exactly_the_engines_the_crd_does() -> None:
    assert set(engines.REGISTRY) == set(typing.get_args(vectorcluster.Engine))
    assert engines.get("weaviate") is weaviate.ENGINE
    with pytest.raises(engines.UnknownEngine, match="no engine 'qdrant' \\(known: weaviate\\)"):
        engines.get("qdrant")


# -- membership -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("replicas", "voters"), [(1, 1), (3, 3), (5, 5), (6, 5), (9, 5)])
def test_the_first_members_vote_at_most_five(replicas: int, voters: int) -> None:
    assert members.voters(replicas) == voters


def test_joins_name_the_voters_by_pod_name_and_stable_dns() -> None:
    assert members.raft_join("docs", 3) == "docs-0,docs-1,docs-2"
    assert members.cluster_join("docs", "team", 3) == ",".join(
        f"docs-{i}.docs-members.team.svc.cluster.local:7100" for i in range(3)
    )


def test_non_voters_never_change_the_joins() -> None:
    """Scaling beyond five leaves the pod template (and so every running member) alone."""
    assert members.raft_join("docs", 7) == members.raft_join("docs", 5)
    assert members.cluster_join("docs", "team", 9) == members.cluster_join("docs", "team", 5)


def test_removing_a_voter_is_refused_and_non_voters_may_go() -> None:
    refusal = weaviate.ENGINE.membership_refusal(3, 1)
    assert refusal is not None
    assert "would remove Raft voters (the first 3 members vote)" in refusal
    assert weaviate.ENGINE.membership_refusal(7, 5) is None
    assert weaviate.ENGINE.membership_refusal(6, 5) is None


# -- topology -------------------------------------------------------------------------------------


def test_shards_and_their_holders_from_weaviate_nodes() -> None:
    found = topology.topology(NODES)
    assert found.members == ("docs-0", "docs-1", "docs-2", "docs-3")
    assert found.shards == (
        engine.Shard("Article", "a", frozenset({"docs-0", "docs-1"})),
        engine.Shard("Article", "b", frozenset({"docs-2"})),
        engine.Shard("Review", "r", frozenset({"docs-0"})),
    )
    assert found.counts() == {"docs-0": 2, "docs-1": 1, "docs-2": 1, "docs-3": 0}


def test_malformed_node_entries_are_skipped() -> None:
    payload = {"nodes": ["junk", {"name": "x", "shards": [{"class": "A"}, "junk"]}, {}]}
    assert topology.topology(payload) == engine.Topology(("x",), ())
    assert topology.topology({}) == engine.Topology((), ())


# -- credentials ----------------------------------------------------------------------------------


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_keys_and_users_go_position_by_position() -> None:
    users = [
        engine.User("gateway", "rsk_admin", admin=True),
        engine.User("analytics", "rsk_viewer", admin=False),
    ]
    assert credentials.credentials(users, {}) == {
        "AUTHENTICATION_APIKEY_ALLOWED_KEYS": "rsk_admin,rsk_viewer",
        "AUTHENTICATION_APIKEY_USERS": "gateway,analytics",
    }
    assert "rsk_" not in repr(users)


def test_a_replaced_key_stays_under_its_user_while_its_hash_is_listed() -> None:
    current = {
        "AUTHENTICATION_APIKEY_ALLOWED_KEYS": "rsk_old,rsk_viewer",
        "AUTHENTICATION_APIKEY_USERS": "gateway,analytics",
    }
    rotated = [
        engine.User("gateway", "rsk_new", admin=True, previous=(_sha("rsk_old"),)),
        engine.User("analytics", "rsk_viewer", admin=False),
    ]
    during = credentials.credentials(rotated, current)
    assert during == {
        "AUTHENTICATION_APIKEY_ALLOWED_KEYS": "rsk_new,rsk_viewer,rsk_old",
        "AUTHENTICATION_APIKEY_USERS": "gateway,analytics,gateway",
    }
    # Re-applied from its own output, the list stays the same (no key piles up).
    assert credentials.credentials(rotated, during) == during
    # Once the grace period ends the plan lists no previous hash, and the old key goes.
    expired = [engine.User("gateway", "rsk_new", admin=True), rotated[1]]
    assert credentials.credentials(expired, during)["AUTHENTICATION_APIKEY_ALLOWED_KEYS"] == (
        "rsk_new,rsk_viewer"
    )


def test_a_replaced_key_not_found_any_more_is_dropped() -> None:
    """Fail safe: a previous key whose plaintext the Secret lost is no longer accepted."""
    users = [engine.User("gateway", "rsk_new", admin=True, previous=(_sha("rsk_lost"),))]
    assert credentials.credentials(users, {})["AUTHENTICATION_APIKEY_ALLOWED_KEYS"] == "rsk_new"


# -- the sidecar's probe --------------------------------------------------------------------------


def test_the_sidecar_probes_the_member_with_the_weaviate_probe() -> None:
    assert weaviate.ENGINE.probe("/keys/api-key") == [
        "--engine",
        "weaviate",
        "--url",
        "http://127.0.0.1:8080",
        "--api-key-file",
        "/keys/api-key",
    ]
