"""Step 6: rolling restarts. The StatefulSet's update strategy is `OnDelete`, so a new template (a
version change, new keys, a renewed certificate, a restart request) reaches the members only as
this step deletes them: one at a time, highest ordinal first, and only while every member is in
the cluster with its readiness gate True. The member restarted last has to be back, gate True,
before the next one goes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runestone_operator.core import conditions, events
from runestone_operator.vectorcluster import plan
from runestone_operator.vectorcluster.context import Context


def _revision(statefulset: Mapping[str, Any]) -> str | None:
    """The template revision members should run, once the controller has seen the template."""
    status = statefulset.get("status") or {}
    generation = int((statefulset.get("metadata") or {}).get("generation", 0))
    if int(status.get("observedGeneration", 0)) < generation:
        return None
    revision = status.get("updateRevision")
    return str(revision) if revision else None


async def ensure_rollout(
    ctx: Context,
    statefulset: Mapping[str, Any],
    replicas: int,
    pods: Sequence[Mapping[str, Any]],
) -> plan.Restart | None:
    """Restart the next outdated member if it is its turn. None while the StatefulSet controller
    has not yet caught up with the latest template."""
    revision = _revision(statefulset)
    if revision is None:
        return None
    decision = plan.next_restart(plan.member_pods(ctx.name, pods), revision, replicas)
    if decision.pod is None:
        return decision
    pod = next(p for p in pods if p["metadata"]["name"] == decision.pod)
    metadata = pod["metadata"]
    deleted = await ctx.kube.delete(
        "v1",
        "Pod",
        ctx.namespace,
        decision.pod,
        uid=metadata["uid"],
        resource_version=metadata["resourceVersion"],
    )
    if deleted:
        ctx.note(
            events.NORMAL,
            conditions.Reason.MEMBER_RESTARTED,
            f"restarting member {decision.pod} for the new template "
            f"({decision.outdated} member(s) still to update)",
        )
    return decision
