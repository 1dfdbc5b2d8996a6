"""Step 10 (always run, also after a step was blocked): what the Gateway's status says, from its
Deployment and pods; `core.steps.status` writes it and posts the Events."""

from __future__ import annotations

from runestone_operator.core import conditions, context, keyplan, kube, models, names, readiness
from runestone_operator.core.steps import keys, status
from runestone_operator.gateway import model
from runestone_operator.gateway import names as gateway_names
from runestone_operator.gateway import readiness as gateway_readiness
from runestone_operator.gateway.builders import service
from runestone_operator.gateway.context import Context
from runestone_operator.gateway.steps import vectorstores

WARNINGS = {
    **status.WARNINGS,
    conditions.LIMITS_SHARED: conditions.FALSE,
    conditions.VECTOR_STORE_READY: conditions.FALSE,
}
"""Besides Degraded, a Gateway warns when its replicas count limits on their own, and when its
link to a VectorCluster is not usable."""


def _link_conditions(ctx: Context, merged: list[models.Condition]) -> list[models.Condition]:
    """Without `spec.vectorStores` the Gateway has no `VectorStoreReady` condition."""
    if ctx.spec.vector_stores is not None:
        return merged
    return [c for c in merged if c.type != conditions.VECTOR_STORE_READY]


async def ensure_status(
    ctx: Context,
    blocker: readiness.Blocker | None,
    plan: keyplan.Plan | None,
    link: vectorstores.Link | None = None,
) -> str | None:
    """Write the Gateway's status from its Deployment and pods; return the Degraded reason
    written, if any. When the API server would not show them, Degraded says so (unless a step
    before was blocked, which says more), and Ready and Progressing stay as last observed rather
    than guessed."""
    api_keys = (
        keys.key_statuses(ctx.name, plan, {key.name: key.expires_at for key in ctx.spec.api_keys})
        if plan is not None
        else ctx.status.api_keys
    )
    try:
        deployment = await ctx.kube.get("apps/v1", "Deployment", ctx.namespace, ctx.name)
        selector = names.label_selector(gateway_names.gateway_selector(ctx.name))
        pods = await ctx.kube.list("v1", "Pod", ctx.namespace, selector) if deployment else []
    except kube.ApiError as error:
        failure = context.blocked_by(error, f"{ctx.what} status")
        if blocker is None or blocker.waiting:
            blocker = failure.blocker()
        observed = [
            conditions.Observation(
                conditions.DEGRADED, conditions.TRUE, blocker.reason, blocker.message
            )
        ]
        new = ctx.status.model_copy(
            update={
                "observed_generation": ctx.generation,
                "conditions": _link_conditions(ctx, status.merged(ctx, observed)),
                "api_keys": api_keys,
            }
        )
        return await status.publish(ctx, new)
    rollout = gateway_readiness.rollout(deployment)
    ready = readiness.ready_pods(pods, gateway_names.GATEWAY_READY_GATE)
    observed = gateway_readiness.gateway_observations(rollout, ready, blocker)
    observed.append(gateway_readiness.limits_observation(ctx.spec))
    if link is not None and link.observation is not None:
        observed.append(link.observation)
    return await status.publish(
        ctx,
        model.GatewayStatus(
            observed_generation=ctx.generation,
            conditions=_link_conditions(ctx, status.merged(ctx, observed)),
            url=service.url(ctx.owner, ctx.spec),
            replicas=rollout.desired if rollout else None,
            ready_replicas=ready if rollout else None,
            api_keys=api_keys,
        ),
        WARNINGS,
    )
