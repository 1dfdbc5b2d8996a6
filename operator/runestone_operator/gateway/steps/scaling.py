"""Step 8: the HorizontalPodAutoscaler and the PodDisruptionBudget, each present only when the
spec calls for it (and deleted when it no longer does)."""

from __future__ import annotations

from runestone_operator.core import context
from runestone_operator.gateway.builders import hpa, pdb
from runestone_operator.gateway.context import Context


async def ensure_scaling(ctx: Context) -> None:
    if ctx.spec.autoscaling is not None:
        await ctx.kube.apply(hpa.hpa(ctx.owner, ctx.spec.autoscaling))
    else:
        await context.remove_optional(ctx, "autoscaling/v2", "HorizontalPodAutoscaler", ctx.name)
    if pdb.wanted(ctx.spec):
        await ctx.kube.apply(pdb.pdb(ctx.owner))
    else:
        await context.remove_optional(ctx, "policy/v1", "PodDisruptionBudget", ctx.name)
