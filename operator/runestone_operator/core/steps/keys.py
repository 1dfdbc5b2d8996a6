"""The API keys of any kind that issues them. First every wanted key Secret is read (reused),
created (a new key) or rotated (the annotation `rotate-key.runestone.dev/<key>`: a new key, the
old one valid for the grace period), then, once the workload no longer accepts them, revoked
keys' Secrets go (`ensure_revoked_keys_removed`).

Key Secrets are read by name only, never listed: the keys issued so far are those the object's
status lists (`status.apiKeys`), so the operator needs no permission to list Secrets, which
would let it read every Secret of the namespace."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from runestone_operator.core import (
    conditions,
    context,
    durations,
    events,
    keyplan,
    models,
    names,
)
from runestone_operator.core.builders import keys as builders

Ctx = context.Context[Any, Any]


async def _stored(ctx: Ctx, wanted: Sequence[keyplan.KeySpec]) -> dict[str, keyplan.StoredKey]:
    """Each wanted key as its Secret holds it, read by name so a Secret whose labels someone
    changed is still found, and its key never replaced by accident."""
    stored = {}
    for spec in wanted:
        secret = await ctx.kube.get(
            "v1", "Secret", ctx.namespace, names.key_secret(ctx.name, spec.name)
        )
        key = keyplan.stored_from_secret(secret) if secret is not None else None
        if key is not None:
            stored[spec.name] = key
    return stored


async def ensure_keys(
    ctx: Ctx,
    wanted: Sequence[keyplan.KeySpec],
    issued: Sequence[models.ApiKeyStatus],
    rotation: models.KeyRotation,
    labels: Mapping[str, str],
    annotations: Mapping[str, Mapping[str, str]] | None = None,
    *,
    owned: bool = True,
) -> keyplan.Plan:
    """Issue, keep or rotate every key of `wanted` into its Secret (with the kind's `labels`,
    and `annotations` by key name); `issued` are the keys the object's status lists, and those
    no longer wanted are in the plan's revocations. With `owned=False` the Secrets outlive the
    object (a Gateway's `deletionPolicy: Retain`)."""
    plan = keyplan.plan(
        wanted,
        await _stored(ctx, wanted),
        [status.name for status in issued],
        keyplan.rotation_requests(ctx.annotations),
        now=ctx.now,
        grace=durations.parse(rotation.grace_period),
    )
    for key in plan.keys:
        extra = (annotations or {}).get(key.name)
        await ctx.kube.apply(builders.key_secret(ctx.owner, labels, key, extra, owned=owned))
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
            f"rotated API key {name!r}; the previous key stays valid for {rotation.grace_period}",
        )
    return plan


async def ensure_revoked_keys_removed(ctx: Ctx, plan: keyplan.Plan) -> None:
    for name in plan.revoked:
        if await ctx.kube.delete("v1", "Secret", ctx.namespace, names.key_secret(ctx.name, name)):
            ctx.note(events.NORMAL, conditions.Reason.KEY_REVOKED, f"revoked API key {name!r}")


def key_statuses(
    owner: str,
    plan: keyplan.Plan,
    expiry: Mapping[str, datetime.datetime | None] | None = None,
) -> list[models.ApiKeyStatus]:
    """Where each key of `plan` can be picked up, and when its replaced keys stop working."""
    return [
        models.ApiKeyStatus(
            name=key.name,
            secret_name=names.key_secret(owner, key.name),
            expires_at=(expiry or {}).get(key.name),
            rotated_at=key.rotated_at,
            previous_key_expires_at=key.previous_expires_at,
        )
        for key in plan.keys
    ]
