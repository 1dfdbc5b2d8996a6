"""What Weaviate's `/v1/nodes?output=verbose` says about the cluster: its members and where the
replicas of every shard live. Pure: an answer in, an `engine.Topology` out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runestone_operator.vectorcluster import engine


def topology(payload: Mapping[str, Any]) -> engine.Topology:
    members: list[str] = []
    holders: dict[tuple[str, str], set[str]] = {}
    for node in payload.get("nodes") or []:
        if not isinstance(node, Mapping) or not node.get("name"):
            continue
        members.append(str(node["name"]))
        for shard in node.get("shards") or []:
            if isinstance(shard, Mapping) and shard.get("class") and shard.get("name"):
                key = (str(shard["class"]), str(shard["name"]))
                holders.setdefault(key, set()).add(str(node["name"]))
    shards = tuple(engine.Shard(c, s, frozenset(n)) for (c, s), n in sorted(holders.items()))
    return engine.Topology(tuple(members), shards)
