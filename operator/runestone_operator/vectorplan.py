"""VectorCluster decisions, made without I/O: who votes in Raft and whom members join, whether a
scale-down would strand data, which member to restart next, what a backup is called, and what
each member reports. The reconcile steps gather the inputs (pods, Weaviate's `/v1/nodes`) and
act on the answers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator import names, readiness, vectornames
from runestone_operator.models import vectorcluster

# -- membership -----------------------------------------------------------------------------------


def voters(replicas: int) -> int:
    """Raft voters: the first members, at most five (the CRD keeps their count odd)."""
    return min(replicas, vectorcluster.MAX_VOTERS)


def raft_join(cluster: str, replicas: int) -> str:
    """`RAFT_JOIN`: the voters' node names (Weaviate resolves them through memberlist)."""
    return ",".join(vectornames.member(cluster, i) for i in range(voters(replicas)))


def cluster_join(cluster: str, namespace: str, replicas: int) -> str:
    """`CLUSTER_JOIN`: the voters' stable DNS names with the gossip port. Only voters are listed,
    so adding non-voting members never changes the pod template (and never restarts anyone)."""
    return ",".join(
        f"{vectornames.member_dns(cluster, namespace, i)}:{vectornames.GOSSIP_PORT}"
        for i in range(voters(replicas))
    )


# -- scale-down safety ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """Where the replicas of one shard live, as Weaviate reports it."""

    collection: str
    name: str
    nodes: frozenset[str]


def shards_from_nodes(payload: Mapping[str, Any]) -> list[Shard]:
    """Shards and the nodes holding them, from a `/v1/nodes?output=verbose` answer."""
    holders: dict[tuple[str, str], set[str]] = {}
    for node in payload.get("nodes") or []:
        if not isinstance(node, Mapping):
            continue
        for shard in node.get("shards") or []:
            if isinstance(shard, Mapping) and shard.get("class") and shard.get("name"):
                key = (str(shard["class"]), str(shard["name"]))
                holders.setdefault(key, set()).add(str(node.get("name")))
    return [Shard(c, s, frozenset(n)) for (c, s), n in sorted(holders.items())]


def removed_members(cluster: str, current: int, target: int) -> set[str]:
    """The members a StatefulSet removes going from `current` to `target` (highest first)."""
    return {vectornames.member(cluster, i) for i in range(target, current)}


def stranded(shards: Iterable[Shard], removed: set[str]) -> list[Shard]:
    """Shards every replica of which sits on a member about to be removed."""
    return [shard for shard in shards if shard.nodes and shard.nodes <= removed]


def scale_down_refusal(
    cluster: str, current: int, target: int, shards: Sequence[Shard]
) -> str | None:
    """Why scaling from `current` to `target` members is refused, or None when it is safe."""
    removed = removed_members(cluster, current, target)
    lost = stranded(shards, removed)
    if not lost:
        return None
    listed = ", ".join(
        f"{shard.collection}/{shard.name} (only on {', '.join(sorted(shard.nodes))})"
        for shard in lost[:5]
    )
    more = f" and {len(lost) - 5} more" if len(lost) > 5 else ""
    return (
        f"scale-down from {current} to {target} members refused: {len(lost)} shard(s) would lose "
        f"their last replica: {listed}{more}; replicate or move them first "
        f"(keeping {current} members meanwhile)"
    )


# -- rolling restarts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberPod:
    name: str
    ordinal: int
    revision: str
    ready: bool
    deleting: bool


def member_pods(cluster: str, pods: Iterable[Mapping[str, Any]]) -> list[MemberPod]:
    found = []
    for pod in pods:
        metadata = pod.get("metadata") or {}
        ordinal = vectornames.ordinal(cluster, str(metadata.get("name", "")))
        if ordinal is None:
            continue
        found.append(
            MemberPod(
                name=str(metadata["name"]),
                ordinal=ordinal,
                revision=str((metadata.get("labels") or {}).get(vectornames.REVISION_LABEL, "")),
                ready=readiness.pod_ready(pod, names.MEMBER_READY_GATE),
                deleting=bool(metadata.get("deletionTimestamp")),
            )
        )
    return sorted(found, key=lambda member: member.ordinal)


@dataclass(frozen=True)
class Restart:
    """The rolling-restart decision: delete `pod` now, or wait (`waiting_for`), or done."""

    pod: str | None
    outdated: int
    waiting_for: str = ""

    @property
    def done(self) -> bool:
        return self.outdated == 0


def next_restart(members: Sequence[MemberPod], update_revision: str, replicas: int) -> Restart:
    """One member at a time, highest ordinal first, and only while every other member is back
    in the cluster with its gate True: the member restarted last has proven itself first."""
    wanted = [m for m in members if m.ordinal < replicas]
    outdated = [m for m in wanted if m.revision != update_revision]
    if not outdated:
        return Restart(None, 0)
    busy = [m.name for m in wanted if m.deleting or not m.ready]
    missing = replicas - len(wanted)
    if busy or missing:
        waiting = ", ".join(busy) if busy else f"{missing} member(s) to be created"
        return Restart(None, len(outdated), waiting)
    return Restart(outdated[-1].name, len(outdated))


# -- backups --------------------------------------------------------------------------------------

_NOT_ID = re.compile(r"[^a-z0-9]+")


def backup_id(cluster: str, token: str) -> str:
    """Weaviate's backup id for a request token (lowercase letters, digits and dashes). The same
    token always names the same backup, so a request is carried out once."""
    slug = _NOT_ID.sub("-", token.lower()).strip("-")[:40].strip("-")
    digest = hashlib.sha256(token.encode()).hexdigest()[:8]
    return "-".join(part for part in (cluster, slug, digest) if part)


# -- status ---------------------------------------------------------------------------------------


def shard_counts(payload: Mapping[str, Any] | None) -> dict[str, int]:
    """Node name -> shards it holds, from `/v1/nodes?output=verbose`."""
    counts: dict[str, int] = {}
    for node in (payload or {}).get("nodes") or []:
        if isinstance(node, Mapping) and node.get("name"):
            counts[str(node["name"])] = len(node.get("shards") or [])
    return counts


def members_status(
    members: Sequence[MemberPod], nodes: Mapping[str, Any] | None
) -> list[vectorcluster.Member]:
    counts = shard_counts(nodes)
    return [
        vectorcluster.Member(pod=m.name, ready=m.ready, shards=counts.get(m.name)) for m in members
    ]
