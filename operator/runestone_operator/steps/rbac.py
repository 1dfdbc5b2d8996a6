"""Step 6: the pods' ServiceAccount, and the Role and RoleBinding the sidecar needs."""

from __future__ import annotations

from runestone_operator.builders import rbac
from runestone_operator.steps import context


async def ensure_rbac(ctx: context.Context) -> None:
    await ctx.kube.apply(rbac.service_account(ctx.owner))
    await ctx.kube.apply(rbac.role(ctx.owner))
    await ctx.kube.apply(rbac.role_binding(ctx.owner))
