"""Step 9 (always run, also after a step was blocked): the VectorCluster's status, written only
when it changed, and the Events that go with what happened. A member counts as ready only when
its containers are ready AND its sidecar has set the gate `runestone.dev/member-ready` True."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator import conditions, readiness, vectorplan
from runestone_operator.conditions import Observation, Reason
from runestone_operator.models import vectorcluster
from runestone_operator.steps import context, status
from runestone_operator.steps.vector_backup import BackupState
from runestone_operator.steps.vector_context import VectorContext


@dataclass(frozen=True)
class Findings:
    """Everything the steps learnt that the conditions report."""

    blocker: readiness.Blocker | None = None
    statefulset: Mapping[str, Any] | None = None
    refusal: str | None = None
    restart: vectorplan.Restart | None = None
    backup: BackupState | None = None


def observations(
    spec: vectorcluster.VectorClusterSpec, ready: int, present: int, findings: Findings
) -> list[Observation]:
    """Ready, Progressing and Degraded for a VectorCluster."""
    wanted = spec.replicas
    blocker = findings.blocker
    if findings.statefulset is None:
        ready_obs = Observation(
            conditions.READY,
            conditions.FALSE,
            blocker.reason if blocker else Reason.NOT_RECONCILED,
            "the members' StatefulSet does not exist yet",
        )
    elif ready >= wanted:
        ready_obs = Observation(
            conditions.READY, conditions.TRUE, Reason.AVAILABLE, f"{ready}/{wanted} members ready"
        )
    else:
        ready_obs = Observation(
            conditions.READY,
            conditions.FALSE,
            Reason.PODS_NOT_READY,
            f"{ready}/{wanted} members ready",
        )

    restart = findings.restart
    backup = findings.backup
    if blocker is not None and blocker.waiting:
        progressing = Observation(
            conditions.PROGRESSING, conditions.TRUE, blocker.reason, blocker.message
        )
    elif restart is not None and not restart.done:
        waiting = f"; waiting for {restart.waiting_for}" if restart.waiting_for else ""
        progressing = Observation(
            conditions.PROGRESSING,
            conditions.TRUE,
            Reason.ROLLING_OUT,
            f"{restart.outdated} member(s) to restart on the new template{waiting}",
        )
    elif (
        findings.statefulset is not None
        and (present != wanted or ready < wanted)
        and not findings.refusal
    ):
        progressing = Observation(
            conditions.PROGRESSING,
            conditions.TRUE,
            Reason.SCALING,
            f"{present} member(s) present, {ready} ready, {wanted} wanted",
        )
    elif backup is not None and backup.running:
        progressing = Observation(
            conditions.PROGRESSING,
            conditions.TRUE,
            Reason.BACKUP_IN_PROGRESS,
            f"backup {backup.running} in progress",
        )
    else:
        progressing = Observation(
            conditions.PROGRESSING,
            conditions.FALSE,
            Reason.ROLLOUT_COMPLETE if findings.statefulset is not None else Reason.NOT_RECONCILED,
            "no rollout in progress",
        )

    if blocker is not None and not blocker.waiting:
        degraded = Observation(
            conditions.DEGRADED, conditions.TRUE, blocker.reason, blocker.message
        )
    elif findings.refusal:
        degraded = Observation(
            conditions.DEGRADED, conditions.TRUE, Reason.SCALE_DOWN_REFUSED, findings.refusal
        )
    elif backup is not None and backup.problem:
        degraded = Observation(
            conditions.DEGRADED, conditions.TRUE, Reason.BACKUP_FAILED, backup.problem
        )
    else:
        degraded = Observation(
            conditions.DEGRADED, conditions.FALSE, Reason.RECONCILED, "every child matches the spec"
        )
    return [ready_obs, progressing, degraded]


async def ensure_status(
    ctx: VectorContext,
    pods: Sequence[Mapping[str, Any]],
    nodes: Mapping[str, Any] | None,
    findings: Findings,
) -> None:
    members = vectorplan.member_pods(ctx.name, pods)
    ready = sum(1 for m in members if m.ready)
    merged = conditions.merge(
        ctx.status.conditions,
        observations(ctx.spec, ready, len(members), findings),
        ctx.generation,
        ctx.now,
    )
    backup = findings.backup
    new = vectorcluster.VectorClusterStatus(
        observed_generation=ctx.generation,
        conditions=merged,
        ready_replicas=ready if findings.statefulset is not None else None,
        members=vectorplan.members_status(members, nodes),
        last_backup=backup.last if backup is not None else ctx.status.last_backup,
    )
    current = ctx.status.model_dump(mode="json", by_alias=True, exclude_none=True)
    await status.write_status(ctx.kube, ctx.owner, current, new)
    await status.degraded_events(ctx.kube, ctx.owner, ctx.status.conditions, merged, ctx.now)
    for event_type, reason, message in ctx.notes:
        await context.record_event(ctx.kube, ctx.owner, event_type, reason, message, ctx.now)
