"""Step 7: the Deployment and its Service."""

from __future__ import annotations

from collections.abc import Sequence

from runestone_operator.gateway.builders import config as config_builder
from runestone_operator.gateway.builders import deployment, service
from runestone_operator.gateway.context import Context


def image(ctx: Context) -> str:
    return ctx.spec.image or ctx.settings.image


async def ensure_workload(
    ctx: Context, tls_secret: str | None, mounts: Sequence[config_builder.SecretMount]
) -> None:
    inputs = deployment.Inputs(
        owner=ctx.owner,
        spec=ctx.spec,
        image=image(ctx),
        tls_secret=tls_secret,
        secret_mounts=tuple(mounts),
    )
    await ctx.kube.apply(deployment.deployment(inputs))
    await ctx.kube.apply(service.service(ctx.owner, ctx.spec))
