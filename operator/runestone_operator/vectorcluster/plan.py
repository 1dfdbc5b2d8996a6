"""VectorCluster decisions, made without I/O and whatever the engine: whether a scale-down would
strand data, which member to restart next, what a backup is called, which member restores which
one's data, and what each member reports. The reconcile steps gather the inputs (pods, the
engine's `engine.Topology`) and act on the answers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import readiness
from runestone_operator.vectorcluster import engine, model, names

# -- scale-down safety ----------------------------------------------------------------------------


def removed_members(cluster: str, current: int, target: int) -> set[str]:
    """The members a StatefulSet removes going from `current` to `target` (highest first)."""
    return {names.member(cluster, i) for i in range(target, current)}


def stranded(shards: Iterable[engine.Shard], removed: set[str]) -> list[engine.Shard]:
    """Shards every replica of which sits on a member about to be removed."""
    return [shard for shard in shards if shard.nodes and shard.nodes <= removed]


def scale_down_refusal(
    cluster: str, current: int, target: int, shards: Sequence[engine.Shard]
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
        ordinal = names.ordinal(cluster, str(metadata.get("name", "")))
        if ordinal is None:
            continue
        found.append(
            MemberPod(
                name=str(metadata["name"]),
                ordinal=ordinal,
                revision=str((metadata.get("labels") or {}).get(names.REVISION_LABEL, "")),
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
    """The backup id of a request token (lowercase letters, digits and dashes, as Weaviate takes
    them). The same token always names the same backup, so a request is carried out once."""
    slug = _NOT_ID.sub("-", token.lower()).strip("-")[:40].strip("-")
    digest = hashlib.sha256(token.encode()).hexdigest()[:8]
    return "-".join(part for part in (cluster, slug, digest) if part)


def restore_members(source: str, cluster: str, replicas: int) -> dict[str, str]:
    """Which member takes the data each member of `source` held: the one of the same ordinal."""
    return {names.member(source, i): names.member(cluster, i) for i in range(replicas)}


# -- status ---------------------------------------------------------------------------------------


def members_status(
    members: Sequence[MemberPod], topology: engine.Topology | None
) -> list[model.Member]:
    counts = topology.counts() if topology is not None else {}
    return [model.Member(pod=m.name, ready=m.ready, shards=counts.get(m.name)) for m in members]
