"""Step 1: resolve the ProviderPools a Gateway names, check every Secret they reference, and render
the config file. Nothing is applied here, so a problem leaves the last good children serving."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import pydantic

from runestone_gateway import config
from runestone_operator import conditions, kube
from runestone_operator.builders import config as config_builder
from runestone_operator.models import common, gateway, providerpool
from runestone_operator.steps import context


@dataclass(frozen=True)
class Resolved:
    pools: tuple[config_builder.Pool, ...]
    mounts: tuple[config_builder.SecretMount, ...]
    """Provider credentials and the Redis URL, each one Secret key mounted as a file."""
    config: config.GatewayConfig


def describe(error: pydantic.ValidationError) -> str:
    """A validation error without the offending input (it could be a secret)."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"])
        problems.append(f"{location}: {item['msg']}" if location else str(item["msg"]))
    return "; ".join(problems)


async def missing_secret(
    client: kube.Kube, namespace: str, ref: common.SecretKeySelector
) -> str | None:
    """Why `ref` cannot be mounted, or None when its Secret holds the key."""
    secret = await client.get("v1", "Secret", namespace, ref.name)
    if secret is None:
        return f"Secret {ref.name!r} does not exist"
    data = secret.get("data") or {}
    if ref.key not in data:
        return f"Secret {ref.name!r} has no key {ref.key!r}"
    value = data[ref.key]
    if not base64.b64decode(value or "").strip():
        return f"Secret {ref.name!r} key {ref.key!r} is empty"
    return None


async def pool_secret_problems(
    client: kube.Kube, namespace: str, pool: str, spec: providerpool.ProviderPoolSpec
) -> list[str]:
    problems = []
    for provider in spec.providers:
        if provider.api_key_secret_ref is None:
            continue
        why = await missing_secret(client, namespace, provider.api_key_secret_ref)
        if why:
            problems.append(
                f"{why} (apiKeySecretRef of provider {provider.name!r} in pool {pool!r})"
            )
    return problems


async def _read_pools(ctx: context.Context) -> list[config_builder.Pool]:
    pools = []
    unknown = []
    for ref in ctx.spec.provider_pools:
        body = await ctx.kube.get(common.API_VERSION, providerpool.KIND, ctx.namespace, ref.name)
        if body is None:
            unknown.append(ref.name)
            continue
        try:
            spec = providerpool.ProviderPoolSpec.model_validate(body.get("spec") or {})
        except pydantic.ValidationError as error:
            raise context.Blocked(
                conditions.Reason.PROVIDER_POOL_INVALID,
                f"ProviderPool {ref.name!r} is invalid: {describe(error)}",
            ) from None
        pools.append(config_builder.Pool(ref.name, spec))
    if unknown:
        raise context.Blocked(
            conditions.Reason.UNKNOWN_PROVIDER_POOL,
            f"ProviderPool {', '.join(repr(name) for name in unknown)} not found "
            f"in namespace {ctx.namespace!r}",
        )
    return pools


def _unserved_models(spec: gateway.GatewaySpec, pools: Sequence[config_builder.Pool]) -> list[str]:
    served = {name for pool in pools for name in pool.spec.model_names()}
    problems = []
    for key in spec.api_keys:
        missing = sorted(set(key.models) - served - {"*"})
        if missing:
            problems.append(f"API key {key.name!r} allows {missing}, which no provider serves")
    return problems


async def ensure_pools_resolved(ctx: context.Context) -> Resolved:
    pools = await _read_pools(ctx)
    secret_problems: list[str] = []
    for pool in pools:
        secret_problems += await pool_secret_problems(ctx.kube, ctx.namespace, pool.name, pool.spec)
    store_ref = ctx.spec.rate_limit_store.url_secret_ref
    if store_ref is not None:
        why = await missing_secret(ctx.kube, ctx.namespace, store_ref)
        if why:
            secret_problems.append(f"{why} (rateLimitStore.urlSecretRef)")
    if secret_problems:
        raise context.Blocked(conditions.Reason.MISSING_SECRET, "; ".join(secret_problems))
    unserved = _unserved_models(ctx.spec, pools)
    if unserved:
        raise context.Blocked(conditions.Reason.MODEL_NOT_SERVED, "; ".join(unserved))
    try:
        rendered = config_builder.gateway_config(ctx.spec, pools, tls=ctx.spec.tls.mode != "none")
    except pydantic.ValidationError as error:
        raise context.Blocked(
            conditions.Reason.INVALID_CONFIG,
            f"the gateway would refuse this config: {describe(error)}",
        ) from None
    mounts = config_builder.provider_mounts(pools)
    redis = config_builder.redis_mount(ctx.spec)
    if redis is not None:
        mounts.append(redis)
    return Resolved(tuple(pools), tuple(mounts), rendered)
