"""Step 1: the API keys. Each key of the spec lives in its own Secret `<name>-key-<key>` (reused
when present, so an operator restart never changes a key); the operator and the sidecar get keys
of their own; Weaviate's allowed-key list is written last, and keys removed from the spec lose
their Secret."""

from __future__ import annotations

from dataclasses import dataclass, field

from runestone_gateway import apikeys
from runestone_operator import conditions, keyplan, names, vectornames
from runestone_operator.builders import events, vector_secrets
from runestone_operator.steps import context
from runestone_operator.steps.vector_context import VectorContext


@dataclass(frozen=True)
class Keys:
    users: tuple[vector_secrets.UserKey, ...]
    operator_key: str = field(repr=False)

    @property
    def digest(self) -> str:
        return vector_secrets.keys_digest(self.users)


async def _stored(ctx: VectorContext, secret_name: str) -> str | None:
    secret = await ctx.kube.get("v1", "Secret", ctx.namespace, secret_name)
    stored = keyplan.stored_from_secret(secret) if secret is not None else None
    return stored.plaintext if stored is not None else None


async def _internal(ctx: VectorContext, secret_name: str) -> str:
    key = await _stored(ctx, secret_name) or apikeys.generate()
    await ctx.kube.apply(vector_secrets.internal_key_secret(ctx.owner, secret_name, key))
    return key


async def ensure_keys(ctx: VectorContext) -> Keys:
    users: list[vector_secrets.UserKey] = []
    for spec in ctx.spec.api_keys:
        secret_name = vectornames.key_secret(ctx.name, spec.name)
        plaintext = await _stored(ctx, secret_name)
        if plaintext is None:
            plaintext = apikeys.generate()
            ctx.note(
                events.NORMAL,
                conditions.Reason.KEY_ISSUED,
                f"issued {spec.role} API key {spec.name!r} into Secret {secret_name!r}",
            )
        stored = keyplan.StoredKey(name=spec.name, plaintext=plaintext)
        await ctx.kube.apply(vector_secrets.key_secret(ctx.owner, stored, spec.role))
        users.append(vector_secrets.UserKey(spec.name, plaintext, admin=spec.role == "admin"))
    operator_key = await _internal(ctx, vectornames.operator_key_secret(ctx.name))
    probe_key = await _internal(ctx, vectornames.probe_key_secret(ctx.name))
    users.append(vector_secrets.UserKey(vectornames.OPERATOR_USER, operator_key, admin=True))
    users.append(vector_secrets.UserKey(vectornames.PROBE_USER, probe_key, admin=False))
    await ctx.kube.apply(vector_secrets.auth_secret(ctx.owner, users))
    await _revoke_removed(ctx)
    return Keys(tuple(users), operator_key)


async def _revoke_removed(ctx: VectorContext) -> None:
    wanted = {spec.name for spec in ctx.spec.api_keys}
    selector = f"{names.LABEL_INSTANCE}={ctx.name},{names.LABEL_API_KEY}"
    for secret in await ctx.kube.list("v1", "Secret", ctx.namespace, selector):
        metadata = secret["metadata"]
        key_name = (metadata.get("labels") or {}).get(names.LABEL_API_KEY, "")
        if key_name in wanted or not context.owned_by(secret, ctx.owner.uid):
            continue
        if await ctx.kube.delete("v1", "Secret", ctx.namespace, metadata["name"], metadata["uid"]):
            ctx.note(events.NORMAL, conditions.Reason.KEY_REVOKED, f"revoked API key {key_name!r}")
