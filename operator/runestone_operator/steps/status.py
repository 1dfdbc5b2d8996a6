"""Step 9 (always run, also after a step was blocked): the Gateway's status, written only when it
changed, and the Events that go with what happened."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pydantic

from runestone_operator import conditions, keyplan, kube, names, readiness
from runestone_operator.builders import events, meta, service
from runestone_operator.models import common, gateway
from runestone_operator.steps import context


def _document(status: pydantic.BaseModel) -> dict[str, Any]:
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


async def write_status(
    client: kube.Kube, owner: meta.Owner, current: Mapping[str, Any], new: pydantic.BaseModel
) -> bool:
    """Apply `new` to the status subresource unless it equals `current`; True when written."""
    document = _document(new)
    if document == dict(current):
        return False
    await client.apply_status(owner.api_version, owner.kind, owner.namespace, owner.name, document)
    return True


async def degraded_events(
    client: kube.Kube,
    owner: meta.Owner,
    before: Sequence[common.Condition],
    after: Sequence[common.Condition],
    now: Any,
) -> None:
    """A Warning when a problem appears or changes, a Normal event when it clears."""
    old = conditions.find(before, conditions.DEGRADED)
    new = conditions.find(after, conditions.DEGRADED)
    if new is None:
        return
    if new.status == conditions.TRUE and (
        old is None or (old.status, old.message) != (new.status, new.message)
    ):
        await context.record_event(client, owner, events.WARNING, new.reason, new.message, now)
    elif new.status == conditions.FALSE and old is not None and old.status == conditions.TRUE:
        await context.record_event(
            client,
            owner,
            events.NORMAL,
            conditions.Reason.RECONCILED,
            "the problem is resolved",
            now,
        )


def _key_statuses(ctx: context.Context, plan: keyplan.Plan) -> list[gateway.ApiKeyStatus]:
    expiry = {spec.name: spec.expires_at for spec in ctx.spec.api_keys}
    return [
        gateway.ApiKeyStatus(
            name=key.name,
            secret_name=names.key_secret(ctx.name, key.name),
            expires_at=expiry.get(key.name),
            rotated_at=key.rotated_at,
            previous_key_expires_at=key.previous_expires_at,
        )
        for key in plan.keys
    ]


async def ensure_status(
    ctx: context.Context, blocker: readiness.Blocker | None, plan: keyplan.Plan | None
) -> bool:
    """Write the Gateway's status from its Deployment and pods. False when the API server would
    not show them: then Degraded says so (unless a step before was blocked, which says more),
    and Ready and Progressing stay as last observed rather than guessed."""
    api_keys = _key_statuses(ctx, plan) if plan is not None else ctx.status.api_keys
    try:
        deployment = await ctx.kube.get("apps/v1", "Deployment", ctx.namespace, ctx.name)
        selector = ",".join(f"{k}={v}" for k, v in names.gateway_selector(ctx.name).items())
        pods = await ctx.kube.list("v1", "Pod", ctx.namespace, selector) if deployment else []
    except kube.ApiError as error:
        failure = context.blocked_by(error, f"gateway {ctx.namespace}/{ctx.name} status")
        if blocker is None or blocker.waiting:
            blocker = readiness.Blocker(failure.reason, failure.message)
        observed = [
            conditions.Observation(
                conditions.DEGRADED, conditions.TRUE, blocker.reason, blocker.message
            )
        ]
        merged = conditions.merge(ctx.status.conditions, observed, ctx.generation, ctx.now)
        new = ctx.status.model_copy(
            update={
                "observed_generation": ctx.generation,
                "conditions": merged,
                "api_keys": api_keys,
            }
        )
        seen = False
    else:
        rollout = readiness.rollout(deployment)
        ready = readiness.ready_pods(pods)
        merged = conditions.merge(
            ctx.status.conditions,
            readiness.gateway_observations(rollout, ready, blocker),
            ctx.generation,
            ctx.now,
        )
        new = gateway.GatewayStatus(
            observed_generation=ctx.generation,
            conditions=merged,
            url=service.url(ctx.owner, ctx.spec),
            replicas=rollout.desired if rollout else None,
            ready_replicas=ready if rollout else None,
            api_keys=api_keys,
        )
        seen = True
    await write_status(ctx.kube, ctx.owner, _document(ctx.status), new)
    await degraded_events(ctx.kube, ctx.owner, ctx.status.conditions, merged, ctx.now)
    for event_type, reason, message in ctx.notes:
        await context.record_event(ctx.kube, ctx.owner, event_type, reason, message, ctx.now)
    return seen
