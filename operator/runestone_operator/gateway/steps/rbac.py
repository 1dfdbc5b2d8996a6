"""Step 6: the pods' ServiceAccount, and the Role and RoleBinding the sidecar needs."""

from __future__ import annotations

from runestone_operator.core.builders import identity
from runestone_operator.gateway import names
from runestone_operator.gateway.context import Context


async def ensure_rbac(ctx: Context) -> None:
    account = names.gateway_service_account(ctx.name)
    labels = names.gateway_labels(ctx.name)
    for manifest in identity.identity(ctx.owner, account, labels, identity.SIDECAR_RULES):
        await ctx.kube.apply(manifest)
