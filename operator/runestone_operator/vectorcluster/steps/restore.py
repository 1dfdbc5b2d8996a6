"""Step 8: the restore `spec.restore` declares, run once into a new cluster.

It waits until every member is ready, checks through the engine that the backup exists and
succeeded, starts the restore, and follows it to `Succeeded` or `Failed` in `status.restore`.
Those two are final: once either is recorded the engine is never asked again, whatever the
reconciles after it. A backup not found yet is the one outcome retried (nothing has run, and it
may still arrive in the bucket), with a `BackupNotFound` Degraded reason meanwhile."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from runestone_operator.core import conditions, events
from runestone_operator.core.conditions import Reason
from runestone_operator.vectorcluster import engine, model, plan
from runestone_operator.vectorcluster.context import Context

FINAL = ("Succeeded", "Failed")
POLL_SECONDS = 5.0
"""How soon to look again while the restore waits for members or runs."""
NOT_FOUND_RETRY_SECONDS = 30.0
"""How soon to look for a missing backup again."""


@dataclass(frozen=True)
class RestoreState:
    """`status.restore` after this reconcile, and what the conditions say about it."""

    status: model.RestoreStatus
    reason: str
    """Restored's reason (and Progressing's or Degraded's, when `busy` or `problem`)."""
    problem: bool = False
    """The restore failed or cannot start (Degraded)."""
    retry_after: float | None = None
    """When to look again (None: final, or the members' changes wake the reconcile)."""

    @property
    def busy(self) -> bool:
        """Not final yet: backups wait, the reconcile looks again."""
        return self.status.phase not in FINAL

    @property
    def message(self) -> str:
        return self.status.message or f"backup {self.status.backup_id} restored"


def _now(ctx: Context) -> datetime.datetime:
    return ctx.now.astimezone(datetime.UTC)


def _pending(spec: model.Restore, reason: str, message: str) -> RestoreState:
    status = model.RestoreStatus(backup_id=spec.backup_id, phase="Pending", message=message)
    problem = reason == Reason.BACKUP_NOT_FOUND
    retry = NOT_FOUND_RETRY_SECONDS if problem else POLL_SECONDS
    return RestoreState(status, reason, problem=problem, retry_after=retry)


def _finished(
    ctx: Context, current: model.RestoreStatus, succeeded: bool, detail: str
) -> RestoreState:
    backup_id = current.backup_id
    if succeeded:
        ctx.note(events.NORMAL, Reason.RESTORE_SUCCEEDED, f"backup {backup_id} restored")
        message = f"backup {backup_id} restored"
    else:
        # Degraded turning True posts the Warning Event with this message.
        message = f"restore of backup {backup_id} failed{': ' + detail[:300] if detail else ''}"
    status = current.model_copy(
        update={
            "phase": "Succeeded" if succeeded else "Failed",
            "completed_at": _now(ctx),
            "message": message,
        }
    )
    reason = Reason.RESTORE_SUCCEEDED if succeeded else Reason.RESTORE_FAILED
    return RestoreState(status, reason, problem=not succeeded)


def _recorded(ctx: Context, spec: model.Restore) -> model.RestoreStatus | None:
    current = ctx.status.restore
    return current if current is not None and current.backup_id == spec.backup_id else None


def _backend(ctx: Context) -> str:
    restore, backup = ctx.spec.restore, ctx.spec.backup
    # Both set: the CRD's CEL rules refuse a restore without spec.backup.
    assert restore is not None
    assert backup is not None
    return restore.backend or backup.backend


async def _follow(
    ctx: Context, db: engine.Engine, endpoint: engine.Endpoint | None, current: model.RestoreStatus
) -> RestoreState:
    """A started restore, until the engine says how it ended."""
    running = RestoreState(current, Reason.RESTORE_IN_PROGRESS, retry_after=POLL_SECONDS)
    if endpoint is None:
        return running
    backend = _backend(ctx)
    try:
        progress = await db.restore(endpoint, backend, current.backup_id)
    except engine.EngineError:
        return running  # a member restarting, say; the restore itself goes on
    if progress is None:
        return _finished(ctx, current, False, "the cluster no longer knows the restore")
    if progress.phase == "Running":
        return running
    return _finished(ctx, current, progress.phase == "Succeeded", progress.detail)


async def _start(
    ctx: Context, db: engine.Engine, endpoint: engine.Endpoint, spec: model.Restore
) -> RestoreState:
    backend = _backend(ctx)
    backup_id = spec.backup_id
    missing = f"backup {backup_id} is not in the {backend} backend; looking again"
    started = model.RestoreStatus(backup_id=backup_id, phase="Running", started_at=_now(ctx))
    try:
        taken = await db.backup(endpoint, backend, backup_id)
        if taken is None:
            return _pending(spec, Reason.BACKUP_NOT_FOUND, missing)
        if taken.phase == "Running":
            message = f"backup {backup_id} is still being taken"
            return _pending(spec, Reason.RESTORE_PENDING, message)
        if taken.phase == "Failed":
            return _finished(ctx, started, False, "the backup itself failed")
        source = spec.source_cluster or ctx.name
        members = plan.restore_members(source, ctx.name, ctx.spec.replicas)
        await db.start_restore(endpoint, backend, backup_id, members)
    except engine.BackupNotFound:
        return _pending(spec, Reason.BACKUP_NOT_FOUND, missing)
    except engine.EngineError as error:
        if error.refused:
            # The engine will not restore this backup into this cluster; asking again would not
            # change its answer.
            return _finished(ctx, started, False, str(error))
        return _pending(spec, Reason.RESTORE_PENDING, f"restore not started yet: {error}")
    ctx.note(
        events.NORMAL,
        Reason.RESTORE_STARTED,
        f"restoring backup {backup_id} from the {backend} backend",
    )
    return RestoreState(started, Reason.RESTORE_IN_PROGRESS, retry_after=POLL_SECONDS)


async def ensure_restore(
    ctx: Context, db: engine.Engine, endpoint: engine.Endpoint | None, ready: int
) -> RestoreState | None:
    """The restore's state after this reconcile (None without `spec.restore`). `ready` is how
    many members are ready now."""
    spec = ctx.spec.restore
    if spec is None:
        return None
    current = _recorded(ctx, spec)
    if current is not None and current.phase in FINAL:
        return RestoreState(
            current,
            Reason.RESTORE_SUCCEEDED if current.phase == "Succeeded" else Reason.RESTORE_FAILED,
            problem=current.phase == "Failed",
        )
    if current is not None and current.phase == "Running":
        return await _follow(ctx, db, endpoint, current)
    wanted = ctx.spec.replicas
    if ready < wanted or endpoint is None:
        message = f"waiting for all {wanted} members to be ready ({ready} ready so far)"
        return _pending(spec, Reason.RESTORE_PENDING, message)
    return await _start(ctx, db, endpoint, spec)


def observations(state: RestoreState) -> list[conditions.Observation]:
    """The `Restored` condition."""
    status = conditions.TRUE if state.status.phase == "Succeeded" else conditions.FALSE
    return [conditions.Observation(conditions.RESTORED, status, state.reason, state.message)]
