"""A VectorCluster reconcile: the ordered steps, with an early stop (status still written) when
one is blocked. The engine `spec.engine` names is asked only what Kubernetes cannot tell: shard
placement and how backups and restores go."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from runestone_operator.core import context, keyplan, kube, references, settings, workqueue
from runestone_operator.core.steps import namesakes, tls
from runestone_operator.vectorcluster import context as vector_context
from runestone_operator.vectorcluster import engine, engines, names, plan
from runestone_operator.vectorcluster.context import LOADER, Context
from runestone_operator.vectorcluster.steps import (
    backup,
    keys,
    members,
    restore,
    rollout,
    status,
    storage,
)

SETTLING_SECONDS = 5.0
"""How soon to look again while members restart, scale, back up or grow their volumes (pod
events also wake us; a claim's do not)."""


def _tls_subject(ctx: Context, db: engine.Engine) -> tls.Subject:
    return tls.Subject(
        labels=vector_context.cluster(ctx, db).labels(),
        ca_secret=names.ca_secret(ctx.name),
        ca_key_secret=names.ca_key_secret(ctx.name),
        tls_secret=names.tls_secret(ctx.name),
        certificate=names.certificate(ctx.name),
        dns_names=tuple(names.serving_dns_names(ctx.name, ctx.namespace)),
    )


async def _blocked(
    ctx: Context, pods: list[dict[str, Any]], problem: context.Blocked | kube.ApiError
) -> workqueue.Outcome:
    blocked = context.blocked_by(problem, ctx.what)
    try:
        statefulset = await ctx.kube.get("apps/v1", "StatefulSet", ctx.namespace, ctx.name)
    except kube.ApiError:
        statefulset = None  # the status says what it can without it
    findings = status.Findings(blocker=blocked.blocker(), statefulset=statefulset)
    degraded = await status.ensure_status(ctx, pods, findings)
    return workqueue.Outcome(retry=True, degraded=degraded)


async def reconcile(
    client: kube.Kube,
    config: settings.Settings,
    namespace: str,
    name: str,
    now: datetime.datetime,
    *,
    read_links: references.LinkReader,
    registry: Mapping[str, engine.Engine] = engines.REGISTRY,
) -> workqueue.Outcome:
    ctx = await LOADER.load(client, config, namespace, name, now)
    if ctx is None:
        return workqueue.Outcome()
    db = engines.get(ctx.spec.engine, registry)
    pods = await vector_context.member_pods(ctx)
    try:
        await namesakes.ensure_name_free(ctx)
        linked = await read_links(ctx.kube, ctx.namespace, ctx.name)
        issued = await keys.ensure_keys(ctx, db, linked)
        serving = await tls.ensure_tls(ctx, ctx.spec.tls, _tls_subject(ctx, db))
        await members.ensure_identity_and_network(ctx, db)
        claim = await backup.ensure_backup_children(ctx, db)
        endpoint = members.member_endpoint(ctx, db, pods, serving, issued)
        applied = await members.ensure_statefulset(ctx, db, issued, serving, claim, endpoint)
        volumes = await storage.ensure_volume_size(ctx, applied.statefulset)
        restart = await rollout.ensure_rollout(ctx, applied.statefulset, applied.replicas, pods)
        ready = sum(1 for member in plan.member_pods(ctx.name, pods) if member.ready)
        restored = await restore.ensure_restore(ctx, db, endpoint, ready)
        if restored is not None and restored.busy:
            # A backup now would hold a cluster half restored; requests wait for the restore.
            requested = backup.BackupState(ctx.status.last_backup)
        else:
            requested = await backup.ensure_backup_request(ctx, db, endpoint)
    except (context.Blocked, kube.ApiError) as problem:
        return await _blocked(ctx, pods, problem)
    findings = status.Findings(
        statefulset=applied.statefulset,
        refusal=applied.refusal,
        restart=restart,
        backup=requested,
        restore=restored,
        volumes=volumes,
        topology=applied.topology,
        keys=issued.plan,
        gateway_keys=keys.gateway_key_statuses(ctx, issued, restart is not None and restart.done),
    )
    degraded = await status.ensure_status(ctx, pods, findings)
    busy = (
        (restart is None or not restart.done)
        or bool(applied.refusal)
        or bool(requested.running)
        or bool(volumes.growing)
        or len(pods) != ctx.spec.replicas
    )
    if busy:
        return workqueue.Outcome(requeue_after=SETTLING_SECONDS, degraded=degraded)
    if restored is not None and restored.retry_after is not None:
        return workqueue.Outcome(requeue_after=restored.retry_after, degraded=degraded)
    woken = workqueue.wake_at(ctx.now, serving.renew_at, keyplan.next_change(issued.plan.keys))
    return dataclasses.replace(woken, degraded=degraded)
