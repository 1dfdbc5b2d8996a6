"""Step 1: who may connect. The spec's keys go through the core's key step (issued into
`<name>-key-<key>`, kept across operator restarts, rotated by the annotation
`rotate-key.runestone.dev/<key>` with the old key valid for `spec.keyRotation.gracePeriod`); the
operator and the sidecar get keys of their own; the engine's credentials, which the members read
at start, list them all (replaced keys until their grace period ends); keys removed from the spec
lose their Secret."""

from __future__ import annotations

from dataclasses import dataclass, field

from runestone_gateway import apikeys
from runestone_operator.core import keyplan, secrets
from runestone_operator.core.steps import keys
from runestone_operator.vectorcluster import context, engine, names
from runestone_operator.vectorcluster.builders import credentials
from runestone_operator.vectorcluster.context import Context

ROLE_ANNOTATION = "runestone.dev/role"
"""On a key Secret: the role the key's user has (admin or viewer)."""


@dataclass(frozen=True)
class Keys:
    plan: keyplan.Plan
    operator_key: str = field(repr=False)
    digest: str
    """Of the engine's credentials: the members restart when it changes."""


async def _internal(ctx: Context, db: engine.Engine, secret_name: str) -> str:
    """A key of the operator's own, reused when its Secret holds one."""
    secret = await ctx.kube.get("v1", "Secret", ctx.namespace, secret_name)
    stored = keyplan.stored_from_secret(secret) if secret is not None else None
    key = stored.plaintext if stored is not None else apikeys.generate()
    cluster = context.cluster(ctx, db)
    await ctx.kube.apply(credentials.internal_key_secret(cluster, secret_name, key))
    return key


async def ensure_keys(ctx: Context, db: engine.Engine) -> Keys:
    cluster = context.cluster(ctx, db)
    roles = {spec.name: spec.role for spec in ctx.spec.api_keys}
    plan = await keys.ensure_keys(
        ctx,
        ctx.spec.api_keys,
        ctx.status.api_keys,
        ctx.spec.key_rotation,
        cluster.labels(),
        {name: {ROLE_ANNOTATION: role} for name, role in roles.items()},
    )
    operator_key = await _internal(ctx, db, names.operator_key_secret(ctx.name))
    probe_key = await _internal(ctx, db, names.probe_key_secret(ctx.name))
    users = [
        engine.User(
            key.name,
            key.plaintext,
            admin=roles.get(key.name) == "admin",
            previous=tuple(old.sha256 for old in key.previous),
        )
        for key in plan.keys
    ]
    users.append(engine.User(names.OPERATOR_USER, operator_key, admin=True))
    users.append(engine.User(names.PROBE_USER, probe_key, admin=False))
    secret_name = names.credentials_secret(ctx.name, db.name)
    current = secrets.data(await ctx.kube.get("v1", "Secret", ctx.namespace, secret_name))
    data = db.credentials(users, current)
    await ctx.kube.apply(credentials.credentials_secret(cluster, data))
    await keys.ensure_revoked_keys_removed(ctx, plan)
    return Keys(plan, operator_key, credentials.digest(data))
