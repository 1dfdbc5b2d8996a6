"""Steps 7 and 9: backups. First the children (the shared claim of the filesystem backend, the
CronJob and its identity; for S3, a check that the credentials Secret holds both keys), then the
backup request: a new value of the annotation `runestone.dev/backup` (written by hand for an
on-demand backup, or by the CronJob on schedule) names one backup, which the operator starts
through the engine and follows until it succeeds or fails. The request token determines the
backup id, so each request runs once."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from runestone_operator.core import conditions, events, references
from runestone_operator.core import context as core_context
from runestone_operator.core import models as common
from runestone_operator.vectorcluster import context, engine, model, names, plan
from runestone_operator.vectorcluster.builders import access, backup
from runestone_operator.vectorcluster.context import Context


async def _check_s3_credentials(ctx: Context, s3: model.S3Backup) -> None:
    """Members cannot start without the keys their environment reads from the Secret: say so
    (never with a value) rather than leave them failing to start."""
    name = s3.credentials_secret_ref.name
    secret = await ctx.kube.get("v1", "Secret", ctx.namespace, name)
    for key in names.S3_CREDENTIAL_KEYS:
        problem = references.secret_problem(secret, common.SecretKeySelector(name=name, key=key))
        if problem:
            raise core_context.Blocked(
                conditions.Reason.MISSING_SECRET, f"{problem} (backup.s3.credentialsSecretRef)"
            )


async def ensure_backup_children(ctx: Context, db: engine.Engine) -> str | None:
    """Apply (or remove) what scheduled backups need; the claim members mount, if any."""
    spec = ctx.spec.backup
    if spec is None:
        await core_context.remove_optional(
            ctx, "batch/v1", "CronJob", names.backup_cronjob(ctx.name)
        )
        return None
    if spec.s3 is not None:
        await _check_s3_credentials(ctx, spec.s3)
    cluster = context.cluster(ctx, db)
    claim = backup.claim_name(ctx.name, spec)
    # Created once, never updated: a claim's size and class are not the operator's to change.
    if claim == names.backup_claim(ctx.name) and not await ctx.kube.get(
        "v1", "PersistentVolumeClaim", ctx.namespace, claim
    ):
        await ctx.kube.apply(backup.backup_claim(cluster, ctx.spec.storage))
    for manifest in access.backup_identity(cluster):
        await ctx.kube.apply(manifest)
    await ctx.kube.apply(
        backup.cronjob(cluster, spec.schedule, ctx.settings.image, ctx.spec.scheduling)
    )
    return claim


@dataclass(frozen=True)
class BackupState:
    last: model.LastBackup | None
    running: str | None = None
    """The id of a backup still in progress."""
    problem: str | None = None
    """Why a requested backup cannot run (shown as Degraded)."""


async def ensure_backup_request(
    ctx: Context, db: engine.Engine, endpoint: engine.Endpoint | None
) -> BackupState:
    last = ctx.status.last_backup
    token = ctx.annotations.get(names.BACKUP_REQUEST)
    if not token:
        return BackupState(last)
    spec = ctx.spec.backup
    if spec is None:
        return BackupState(last, problem="a backup was requested but spec.backup is not set")
    backup_id = plan.backup_id(ctx.name, token)
    if last is not None and last.id == backup_id:
        return BackupState(last)  # done already (either way)
    if endpoint is None:
        return BackupState(last, running=backup_id)  # no member to ask yet; try again soon
    try:
        progress = await db.backup(endpoint, spec.backend, backup_id)
        if progress is None:
            await db.start_backup(endpoint, spec.backend, backup_id)
            ctx.note(
                events.NORMAL,
                conditions.Reason.BACKUP_STARTED,
                f"started backup {backup_id} to the {spec.backend} backend",
            )
            return BackupState(last, running=backup_id)
    except engine.EngineError as error:
        if error.refused:
            # The engine will not take this backup (nothing to back up, say): asking again every
            # few seconds would not change that. The next request token tries afresh.
            return _finished(ctx, backup_id, "Failed", str(error))
        return BackupState(last, running=backup_id, problem=f"backup {backup_id}: {error}")
    if progress.phase == "Running":
        return BackupState(last, running=backup_id)
    return _finished(ctx, backup_id, progress.phase, progress.detail)


def _finished(ctx: Context, backup_id: str, result: str, detail: str) -> BackupState:
    if result == "Succeeded":
        ctx.note(events.NORMAL, conditions.Reason.BACKUP_SUCCEEDED, f"backup {backup_id} done")
    else:
        ctx.note(
            events.WARNING,
            conditions.Reason.BACKUP_FAILED,
            f"backup {backup_id} failed{': ' + detail[:200] if detail else ''}",
        )
    return BackupState(
        model.LastBackup(
            id=backup_id,
            time=ctx.now.astimezone(datetime.UTC),
            result="Succeeded" if result == "Succeeded" else "Failed",
        )
    )
