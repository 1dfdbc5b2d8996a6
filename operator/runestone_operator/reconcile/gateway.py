"""A Gateway reconcile: the ordered steps, with an early stop (status still written) when one is
blocked."""

from __future__ import annotations

import datetime

import pydantic

from runestone_operator import keyplan, kube, readiness, settings, timestamps, workqueue
from runestone_operator.builders import meta
from runestone_operator.models import common, gateway
from runestone_operator.steps import (
    config,
    context,
    keys,
    pools,
    rbac,
    scaling,
    status,
    tls,
    workload,
)


def _status(body: dict[str, object]) -> gateway.GatewayStatus:
    try:
        return gateway.GatewayStatus.model_validate(body.get("status") or {})
    except pydantic.ValidationError:
        return gateway.GatewayStatus()  # rewritten from scratch below


def _earliest(*moments: datetime.datetime | None) -> datetime.datetime | None:
    return min((moment for moment in moments if moment is not None), default=None)


async def reconcile(
    client: kube.Kube, config_: settings.Settings, namespace: str, name: str, now: datetime.datetime
) -> workqueue.Outcome:
    body = await client.get(common.API_VERSION, gateway.KIND, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return workqueue.Outcome()  # owner references let the garbage collector do the rest
    metadata = body["metadata"]
    owner = meta.Owner(common.API_VERSION, gateway.KIND, namespace, name, metadata["uid"])
    ctx = context.Context(
        kube=client,
        settings=config_,
        owner=owner,
        spec=gateway.GatewaySpec.model_validate(body.get("spec") or {}),
        status=_status(body),
        generation=int(metadata.get("generation", 0)),
        annotations=metadata.get("annotations") or {},
        now=timestamps.truncate(now),
    )
    plan: keyplan.Plan | None = None
    try:
        resolved = await pools.ensure_pools_resolved(ctx)
        serving = await tls.ensure_tls(ctx)
        plan = await keys.ensure_api_keys(ctx)
        await config.ensure_config(ctx, resolved.config, plan)
        await keys.ensure_revoked_keys_removed(ctx, plan)
        await rbac.ensure_rbac(ctx)
        await workload.ensure_workload(ctx, serving.secret_name, resolved.mounts)
        await scaling.ensure_scaling(ctx)
    except (context.Blocked, kube.ApiError) as problem:
        blocked = context.blocked_by(problem, f"gateway {namespace}/{name}")
        blocker = readiness.Blocker(blocked.reason, blocked.message, blocked.waiting)
        await status.ensure_status(ctx, blocker, plan)
        return workqueue.Outcome(retry=True)
    if not await status.ensure_status(ctx, None, plan):
        return workqueue.Outcome(retry=True)
    wake = _earliest(serving.renew_at, keyplan.next_change(plan.keys))
    if wake is None:
        return workqueue.Outcome()
    return workqueue.Outcome(requeue_after=max((wake - ctx.now).total_seconds(), 0.0) + 1.0)
