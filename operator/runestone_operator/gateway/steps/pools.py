"""Step 1: resolve the ProviderPools a Gateway names, check every Secret they reference, and
render the config file. Nothing is applied here, so a problem leaves the last good children
serving. Pools are read through the `core.references.PoolReader` the app hands the reconcile."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pydantic

from runestone_gateway import config
from runestone_operator.core import conditions, context, peers, references
from runestone_operator.gateway import model
from runestone_operator.gateway.builders import config as config_builder
from runestone_operator.gateway.context import Context


@dataclass(frozen=True)
class Resolved:
    pools: tuple[peers.PoolView, ...]
    mounts: tuple[config_builder.SecretMount, ...]
    """Provider credentials and the Redis URL, each one Secret key mounted as a file."""
    config: config.GatewayConfig


async def _read_pools(ctx: Context, read: references.PoolReader) -> list[peers.PoolView]:
    pools = []
    unknown = []
    for ref in ctx.spec.provider_pools:
        pool = await read(ctx.kube, ctx.namespace, ref.name)
        if pool is None:
            unknown.append(ref.name)
        else:
            pools.append(pool)
    if unknown:
        raise context.Blocked(
            conditions.Reason.UNKNOWN_PROVIDER_POOL,
            f"ProviderPool {', '.join(repr(name) for name in unknown)} not found "
            f"in namespace {ctx.namespace!r}",
        )
    return pools


def _unserved_models(spec: model.GatewaySpec, pools: Sequence[peers.PoolView]) -> list[str]:
    served = {name for pool in pools for name in pool.model_names()}
    problems = []
    for key in spec.api_keys:
        missing = sorted(set(key.models) - served - {"*"})
        if missing:
            problems.append(f"API key {key.name!r} allows {missing}, which no provider serves")
    return problems


async def ensure_pools_resolved(ctx: Context, read: references.PoolReader) -> Resolved:
    pools = await _read_pools(ctx, read)
    secret_problems = await references.credential_problems(ctx.kube, ctx.namespace, pools)
    store_ref = ctx.spec.rate_limit_store.url_secret_ref
    if store_ref is not None:
        why = await references.missing_secret(ctx.kube, ctx.namespace, store_ref)
        if why:
            secret_problems.append(
                references.Problem(
                    conditions.Reason.MISSING_SECRET, f"{why} (rateLimitStore.urlSecretRef)"
                )
            )
    if secret_problems:
        problem = references.summary(secret_problems)
        raise context.Blocked(problem.reason, problem.message)
    unserved = _unserved_models(ctx.spec, pools)
    if unserved:
        raise context.Blocked(conditions.Reason.MODEL_NOT_SERVED, "; ".join(unserved))
    try:
        rendered = config_builder.gateway_config(ctx.spec, pools, tls=ctx.spec.tls.mode != "none")
    except pydantic.ValidationError as error:
        raise context.Blocked(
            conditions.Reason.INVALID_CONFIG,
            f"the gateway would refuse this config: {references.describe(error)}",
        ) from None
    mounts = config_builder.provider_mounts(pools)
    redis = config_builder.redis_mount(ctx.spec)
    if redis is not None:
        mounts.append(redis)
    return Resolved(tuple(pools), tuple(mounts), rendered)
