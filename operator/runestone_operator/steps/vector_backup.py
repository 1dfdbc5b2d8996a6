"""Steps 7 and 8: backups. First the children (the shared claim of the filesystem backend, the
CronJob and its identity), then the backup request: a new value of the annotation
`runestone.dev/backup` (written by hand for an on-demand backup, or by the CronJob on schedule)
names one backup, which the operator starts through Weaviate's REST API and follows until it
succeeds or fails. The request token determines the backup id, so each request runs once."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from runestone_operator import conditions, vectornames, vectorplan, weaviate
from runestone_operator.builders import events, vector_access, vector_backup
from runestone_operator.models import vectorcluster
from runestone_operator.steps.vector_context import VectorContext, delete_owned

FINISHED = {"SUCCESS": "Succeeded", "FAILED": "Failed", "CANCELED": "Failed"}
REFUSED = frozenset({400, 422})
"""Statuses with which Weaviate refuses to start a backup for reasons a retry cannot change."""


async def ensure_backup_children(ctx: VectorContext) -> str | None:
    """Apply (or remove) what scheduled backups need; the claim members mount, if any."""
    backup = ctx.spec.backup
    if backup is None:
        await delete_owned(ctx, "batch/v1", "CronJob", vectornames.backup_cronjob(ctx.name))
        return None
    claim = vector_backup.claim_name(ctx.owner, backup)
    # Created once, never updated: a claim's size and class are not the operator's to change.
    if claim == vectornames.backup_claim(ctx.name) and not await ctx.kube.get(
        "v1", "PersistentVolumeClaim", ctx.namespace, claim
    ):
        await ctx.kube.apply(vector_backup.backup_claim(ctx.owner, ctx.spec.storage))
    for manifest in vector_access.backup_identity(ctx.owner):
        await ctx.kube.apply(manifest)
    await ctx.kube.apply(vector_backup.cronjob(ctx.owner, backup.schedule, ctx.settings.image))
    return claim


@dataclass(frozen=True)
class BackupState:
    last: vectorcluster.LastBackup | None
    running: str | None = None
    """The id of a backup still in progress."""
    problem: str | None = None
    """Why a requested backup cannot run (shown as Degraded)."""


async def ensure_backup_request(
    ctx: VectorContext, access: weaviate.Endpoint | None
) -> BackupState:
    last = ctx.status.last_backup
    token = ctx.annotations.get(vectornames.BACKUP_REQUEST)
    if not token:
        return BackupState(last)
    backup = ctx.spec.backup
    if backup is None:
        return BackupState(last, problem="a backup was requested but spec.backup is not set")
    backup_id = vectorplan.backup_id(ctx.name, token)
    if last is not None and last.id == backup_id:
        return BackupState(last)  # done already (either way)
    if access is None:
        return BackupState(last, running=backup_id)  # no member to ask yet; try again soon
    try:
        status = await weaviate.backup_status(access, backup.backend, backup_id)
        if status is None:
            await weaviate.create_backup(access, backup.backend, backup_id)
            ctx.note(
                events.NORMAL,
                conditions.Reason.BACKUP_STARTED,
                f"started backup {backup_id} to the {backup.backend} backend",
            )
            return BackupState(last, running=backup_id)
    except weaviate.WeaviateError as error:
        if error.status in REFUSED:
            # Weaviate will not take this backup (nothing to back up, say): asking again every
            # few seconds would not change that. The next request token tries afresh.
            return _finished(ctx, backup_id, "Failed", str(error))
        return BackupState(last, running=backup_id, problem=f"backup {backup_id}: {error}")
    result = FINISHED.get(str(status.get("status", "")))
    if result is None:
        return BackupState(last, running=backup_id)
    return _finished(ctx, backup_id, result, str(status.get("error") or ""))


def _finished(ctx: VectorContext, backup_id: str, result: str, detail: str) -> BackupState:
    if result == "Succeeded":
        ctx.note(events.NORMAL, conditions.Reason.BACKUP_SUCCEEDED, f"backup {backup_id} done")
    else:
        ctx.note(
            events.WARNING,
            conditions.Reason.BACKUP_FAILED,
            f"backup {backup_id} failed{': ' + detail[:200] if detail else ''}",
        )
    return BackupState(
        vectorcluster.LastBackup(
            id=backup_id,
            time=ctx.now.astimezone(datetime.UTC),
            result="Succeeded" if result == "Succeeded" else "Failed",
        )
    )
