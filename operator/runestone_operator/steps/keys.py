"""Steps 3 and 5: the API keys. First every wanted key Secret is read (reused), created (a new
key) or rotated, then, once the key table no longer lists them, revoked keys' Secrets go."""

from __future__ import annotations

from runestone_operator import conditions, durations, keyplan, names
from runestone_operator.builders import events, keytable
from runestone_operator.steps import context


async def _stored(ctx: context.Context) -> dict[str, keyplan.StoredKey]:
    """Each wanted key as its Secret holds it, read by name so a Secret whose labels someone
    changed is still found, and its key never replaced by accident."""
    stored = {}
    for spec in ctx.spec.api_keys:
        secret = await ctx.kube.get(
            "v1", "Secret", ctx.namespace, names.key_secret(ctx.name, spec.name)
        )
        key = keyplan.stored_from_secret(secret) if secret is not None else None
        if key is not None:
            stored[spec.name] = key
    return stored


async def _existing(ctx: context.Context) -> list[str]:
    """Names of every key Secret this Gateway has."""
    selector = f"{names.LABEL_INSTANCE}={ctx.name},{names.LABEL_API_KEY}"
    secrets = await ctx.kube.list("v1", "Secret", ctx.namespace, selector)
    found = []
    for secret in secrets:
        if context.owned_by(secret, ctx.owner.uid):
            found.append(secret["metadata"]["labels"][names.LABEL_API_KEY])
    return found


async def ensure_api_keys(ctx: context.Context) -> keyplan.Plan:
    plan = keyplan.plan(
        ctx.spec.api_keys,
        await _stored(ctx),
        await _existing(ctx),
        keyplan.rotation_requests(ctx.annotations),
        now=ctx.now,
        grace=durations.parse(ctx.spec.key_rotation.grace_period),
    )
    for key in plan.keys:
        await ctx.kube.apply(keytable.key_secret(ctx.owner, key))
    for name in plan.issued:
        ctx.note(
            events.NORMAL,
            conditions.Reason.KEY_ISSUED,
            f"issued API key {name!r} into Secret {names.key_secret(ctx.name, name)!r}",
        )
    for name in plan.rotated:
        ctx.note(
            events.NORMAL,
            conditions.Reason.KEY_ROTATED,
            f"rotated API key {name!r}; the previous key stays valid for "
            f"{ctx.spec.key_rotation.grace_period}",
        )
    return plan


async def ensure_revoked_keys_removed(ctx: context.Context, plan: keyplan.Plan) -> None:
    for name in plan.revoked:
        if await ctx.kube.delete("v1", "Secret", ctx.namespace, names.key_secret(ctx.name, name)):
            ctx.note(events.NORMAL, conditions.Reason.KEY_REVOKED, f"revoked API key {name!r}")
