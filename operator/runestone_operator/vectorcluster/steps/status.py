"""Step 10 (always run, also after a step was blocked): what the VectorCluster's status says;
`core.steps.status` writes it and posts the Events. A member counts as ready only when its
containers are ready AND its sidecar has set the gate `runestone.dev/member-ready` True."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import keyplan, models, readiness
from runestone_operator.core.conditions import Observation, Reason
from runestone_operator.core.steps import keys, status
from runestone_operator.vectorcluster import engine, model, plan
from runestone_operator.vectorcluster.context import Context
from runestone_operator.vectorcluster.steps import restore, storage
from runestone_operator.vectorcluster.steps.backup import BackupState


@dataclass(frozen=True)
class Findings:
    """Everything the steps learnt that the status reports."""

    blocker: readiness.Blocker | None = None
    statefulset: Mapping[str, Any] | None = None
    refusal: str | None = None
    restart: plan.Restart | None = None
    backup: BackupState | None = None
    restore: restore.RestoreState | None = None
    volumes: storage.Volumes | None = None
    topology: engine.Topology | None = None
    keys: keyplan.Plan | None = None
    gateway_keys: Sequence[models.GatewayKeyStatus] | None = None


def observations(
    spec: model.VectorClusterSpec, ready: int, present: int, findings: Findings
) -> list[Observation]:
    """Ready, Progressing and Degraded for a VectorCluster."""
    wanted = spec.replicas
    progress: list[readiness.Finding] = []
    restart, backup = findings.restart, findings.backup
    if restart is not None and not restart.done:
        waiting = f"; waiting for {restart.waiting_for}" if restart.waiting_for else ""
        progress.append(
            readiness.Finding(
                Reason.ROLLING_OUT,
                f"{restart.outdated} member(s) to restart on the new template{waiting}",
            )
        )
    if (
        findings.statefulset is not None
        and (present != wanted or ready < wanted)
        and not findings.refusal
    ):
        progress.append(
            readiness.Finding(
                Reason.SCALING, f"{present} member(s) present, {ready} ready, {wanted} wanted"
            )
        )
    if backup is not None and backup.running:
        progress.append(
            readiness.Finding(Reason.BACKUP_IN_PROGRESS, f"backup {backup.running} in progress")
        )
    restoring = findings.restore
    if restoring is not None and restoring.busy and not restoring.problem:
        progress.append(readiness.Finding(restoring.reason, restoring.message))
    volumes = findings.volumes
    if volumes is not None and volumes.growing:
        remount = (
            f"; {', '.join(volumes.remount)} grown, the filesystem waiting for its member to "
            "restart (the volume's driver grows it when the volume is next mounted)"
            if volumes.remount
            else ""
        )
        progress.append(
            readiness.Finding(
                Reason.VOLUMES_GROWING,
                f"member volume(s) {', '.join(volumes.growing)} growing to {volumes.size}{remount}",
            )
        )
    problems: list[readiness.Finding] = []
    if findings.refusal:
        problems.append(readiness.Finding(Reason.SCALE_DOWN_REFUSED, findings.refusal))
    if backup is not None and backup.problem:
        problems.append(readiness.Finding(Reason.BACKUP_FAILED, backup.problem))
    if restoring is not None and restoring.problem:
        problems.append(readiness.Finding(restoring.reason, restoring.message))
    if volumes is not None and volumes.refused:
        problems.append(
            readiness.Finding(
                Reason.VOLUME_EXPANSION_REFUSED,
                f"member volume(s) {', '.join(volumes.refused)} cannot grow to {volumes.size}: "
                "their StorageClass does not allow volume expansion (allowVolumeExpansion), so "
                "they keep their size",
            )
        )
    if volumes is not None and volumes.larger:
        problems.append(
            readiness.Finding(
                Reason.VOLUME_CANNOT_SHRINK,
                f"member volume(s) {', '.join(volumes.larger)} hold more than {volumes.size}: "
                "a volume cannot shrink, so they keep their size",
            )
        )
    observed = readiness.observations(
        readiness.Workload(ready, wanted, "members") if findings.statefulset is not None else None,
        "the members' StatefulSet does not exist yet",
        findings.blocker,
        progress=progress,
        problems=problems,
    )
    return observed + (restore.observations(restoring) if restoring is not None else [])


async def ensure_status(
    ctx: Context, pods: Sequence[Mapping[str, Any]], findings: Findings
) -> str | None:
    """Write the status; return the Degraded reason written, if any."""
    members = plan.member_pods(ctx.name, pods)
    ready = sum(1 for m in members if m.ready)
    backup = findings.backup
    new = model.VectorClusterStatus(
        observed_generation=ctx.generation,
        conditions=status.merged(ctx, observations(ctx.spec, ready, len(members), findings)),
        ready_replicas=ready if findings.statefulset is not None else None,
        members=plan.members_status(members, findings.topology),
        last_backup=backup.last if backup is not None else ctx.status.last_backup,
        restore=findings.restore.status if findings.restore is not None else ctx.status.restore,
        api_keys=(
            keys.key_statuses(ctx.name, findings.keys)
            if findings.keys is not None
            else ctx.status.api_keys
        ),
        gateway_keys=(
            list(findings.gateway_keys)
            if findings.gateway_keys is not None
            else ctx.status.gateway_keys
        ),
    )
    return await status.publish(ctx, new)
