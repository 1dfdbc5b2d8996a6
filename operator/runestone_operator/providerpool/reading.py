"""How other kinds read a ProviderPool (a `core.peers.PoolReader`): the pool as the gateway's
config schema has it, or why it cannot be used."""

from __future__ import annotations

import pydantic

from runestone_operator.core import conditions, context, kinds, kube, peers, references
from runestone_operator.providerpool import model, render


async def read(client: kube.Kube, namespace: str, name: str) -> peers.PoolView | None:
    body = await client.get(kinds.API_VERSION, kinds.PROVIDER_POOL.name, namespace, name)
    if body is None:
        return None
    try:
        spec = model.ProviderPoolSpec.model_validate(body.get("spec") or {})
    except pydantic.ValidationError as error:
        raise context.Blocked(
            conditions.Reason.PROVIDER_POOL_INVALID,
            f"ProviderPool {name!r} is invalid: {references.describe(error)}",
        ) from None
    try:
        return render.view(name, spec)
    except pydantic.ValidationError as error:
        raise context.Blocked(
            conditions.Reason.PROVIDER_POOL_INVALID,
            f"the gateway would refuse ProviderPool {name!r}: {references.describe(error)}",
        ) from None
