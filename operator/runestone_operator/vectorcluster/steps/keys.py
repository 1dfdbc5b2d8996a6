"""Step 1: who may connect. The spec's keys go through the core's key step (issued into
`<name>-key-<key>`, kept across operator restarts, rotated by the annotation
`rotate-key.runestone.dev/<key>` with the old key valid for `spec.keyRotation.gracePeriod`); the
operator and the sidecar get keys of their own; the engine's credentials, which the members read
at start, list them all (replaced keys until their grace period ends); keys removed from the spec
lose their Secret.

Each Gateway whose `spec.vectorStores` references the cluster gets a key of its own too, through
the same core step (`core.names.gateway_key`, an admin: the gateway writes), listed in
`status.gatewayKeys`; when the Gateway stops referencing the cluster or is deleted, its key is
revoked like a spec key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from runestone_gateway import apikeys
from runestone_operator.core import keyplan, models, secrets
from runestone_operator.core import names as core_names
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
    gateway_plan: keyplan.Plan
    """The keys of the Gateways that reference the cluster."""
    gateways: tuple[str, ...]
    """Those Gateways' names, in the order of `gateway_plan.keys`."""

    @property
    def gateway_users(self) -> tuple[str, ...]:
        """The engine's users those keys stand for (admins)."""
        return tuple(key.name for key in self.gateway_plan.keys)


@dataclass(frozen=True)
class _GatewayKey:
    """A key the core's key step issues for a Gateway (a `keyplan.KeySpec`)."""

    name: str


async def _internal(ctx: Context, db: engine.Engine, secret_name: str) -> str:
    """A key of the operator's own, reused when its Secret holds one."""
    secret = await ctx.kube.get("v1", "Secret", ctx.namespace, secret_name)
    stored = keyplan.stored_from_secret(secret) if secret is not None else None
    key = stored.plaintext if stored is not None else apikeys.generate()
    cluster = context.cluster(ctx, db)
    await ctx.kube.apply(credentials.internal_key_secret(cluster, secret_name, key))
    return key


async def ensure_keys(ctx: Context, db: engine.Engine, linked: Sequence[str] = ()) -> Keys:
    """`linked`: the Gateways that reference the cluster, each issued an admin key."""
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
    gateway_plan = await keys.ensure_keys(
        ctx,
        [_GatewayKey(core_names.gateway_key(gateway)) for gateway in linked],
        ctx.status.gateway_keys,
        ctx.spec.key_rotation,
        cluster.labels(),
        {core_names.gateway_key(gateway): {ROLE_ANNOTATION: "admin"} for gateway in linked},
    )
    operator_key = await _internal(ctx, db, names.operator_key_secret(ctx.name))
    probe_key = await _internal(ctx, db, names.probe_key_secret(ctx.name))
    users = [
        engine.User(
            key.name,
            key.plaintext,
            admin=roles.get(key.name) == "admin",
            previous=_previous(key),
        )
        for key in plan.keys
    ]
    users += [
        engine.User(key.name, key.plaintext, admin=True, previous=_previous(key))
        for key in gateway_plan.keys
    ]
    users.append(engine.User(names.OPERATOR_USER, operator_key, admin=True))
    users.append(engine.User(names.PROBE_USER, probe_key, admin=False))
    secret_name = names.credentials_secret(ctx.name, db.name)
    current = secrets.data(await ctx.kube.get("v1", "Secret", ctx.namespace, secret_name))
    data = db.credentials(users, current)
    await ctx.kube.apply(credentials.credentials_secret(cluster, data))
    await keys.ensure_revoked_keys_removed(ctx, plan)
    await keys.ensure_revoked_keys_removed(ctx, gateway_plan)
    return Keys(plan, operator_key, credentials.digest(data), gateway_plan, tuple(linked))


def _previous(key: keyplan.StoredKey) -> tuple[str, ...]:
    return tuple(old.sha256 for old in key.previous)


def gateway_key_statuses(
    ctx: Context, issued: Keys, accepted_now: bool
) -> list[models.GatewayKeyStatus]:
    """`status.gatewayKeys`: where each Gateway's key is, and whether every member accepts it:
    once the members all run the current credentials (`accepted_now`), or since it was first
    seen accepted."""
    before = {key.name: key.accepted for key in ctx.status.gateway_keys}
    statuses = keys.key_statuses(ctx.name, issued.gateway_plan)
    return [
        models.GatewayKeyStatus(
            **status.model_dump(),
            gateway=gateway,
            accepted=accepted_now or before.get(status.name, False),
        )
        for gateway, status in zip(issued.gateways, statuses, strict=True)
    ]
