"""A Gateway reconcile: the ordered steps, with an early stop (status still written) when one is
blocked."""

from __future__ import annotations

import datetime

from runestone_operator.core import context, keyplan, kube, references, settings, workqueue
from runestone_operator.core.steps import keys, namesakes, tls
from runestone_operator.gateway import names
from runestone_operator.gateway.context import LOADER, Context
from runestone_operator.gateway.steps import (
    config,
    network,
    pools,
    rbac,
    scaling,
    status,
    vectorstores,
    workload,
)


def _retained(ctx: Context) -> bool:
    """Keys and CA outlive the Gateway (`spec.deletionPolicy: Retain`)."""
    return ctx.spec.deletion_policy == "Retain"


def _tls_subject(ctx: Context) -> tls.Subject:
    return tls.Subject(
        labels=names.gateway_labels(ctx.name),
        ca_secret=names.ca_secret(ctx.name),
        ca_key_secret=names.ca_key_secret(ctx.name),
        tls_secret=names.tls_secret(ctx.name),
        certificate=ctx.name,
        dns_names=tuple(names.service_dns_names(ctx.name, ctx.namespace)),
        retain=_retained(ctx),
    )


async def reconcile(
    client: kube.Kube,
    config_: settings.Settings,
    namespace: str,
    name: str,
    now: datetime.datetime,
    *,
    read_pool: references.PoolReader,
    read_cluster: references.VectorClusterReader,
) -> workqueue.Outcome:
    ctx = await LOADER.load(client, config_, namespace, name, now)
    if ctx is None:
        return workqueue.Outcome()
    plan: keyplan.Plan | None = None
    link: vectorstores.Link | None = None
    try:
        await namesakes.ensure_name_free(ctx)
        resolved = await pools.ensure_pools_resolved(ctx, read_pool)
        link = await vectorstores.ensure_link(ctx, read_cluster, resolved)
        serving = await tls.ensure_tls(ctx, ctx.spec.tls, _tls_subject(ctx))
        plan = await keys.ensure_keys(
            ctx,
            ctx.spec.api_keys,
            ctx.status.api_keys,
            ctx.spec.key_rotation,
            names.gateway_labels(ctx.name),
            owned=not _retained(ctx),
        )
        await config.ensure_config(ctx, link.config, plan)
        await keys.ensure_revoked_keys_removed(ctx, plan)
        await rbac.ensure_rbac(ctx)
        await workload.ensure_workload(ctx, serving.secret_name, (*resolved.mounts, *link.mounts))
        await scaling.ensure_scaling(ctx)
        await network.ensure_network(ctx)
    except (context.Blocked, kube.ApiError) as problem:
        blocked = context.blocked_by(problem, ctx.what)
        degraded = await status.ensure_status(ctx, blocked.blocker(), plan, link)
        return workqueue.Outcome(retry=True, degraded=degraded)
    degraded = await status.ensure_status(ctx, None, plan, link)
    if degraded:
        return workqueue.Outcome(retry=True, degraded=degraded)
    return workqueue.wake_at(ctx.now, serving.renew_at, keyplan.next_change(plan.keys))
