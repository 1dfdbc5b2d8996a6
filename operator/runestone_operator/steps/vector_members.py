"""Steps 3 to 5: the members' identity, their Services, NetworkPolicy and PodDisruptionBudget, and
the StatefulSet itself, whose replica count only goes down once Weaviate confirms that no shard
would lose its last replica."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator import conditions, vectornames, vectorplan, weaviate
from runestone_operator.builders import vector_access, vector_members, vector_network
from runestone_operator.steps import context
from runestone_operator.steps.vector_context import VectorContext
from runestone_operator.steps.vector_keys import Keys
from runestone_operator.steps.vector_tls import Serving


async def ensure_identity_and_network(ctx: VectorContext) -> None:
    for manifest in vector_access.member_identity(ctx.owner):
        await ctx.kube.apply(manifest)
    await ctx.kube.apply(vector_network.headless_service(ctx.owner))
    await ctx.kube.apply(vector_network.client_service(ctx.owner, ctx.tls))
    await ctx.kube.apply(vector_network.network_policy(ctx.owner, ctx.tls))
    await ctx.kube.apply(vector_network.pdb(ctx.owner))


def endpoint(
    ctx: VectorContext, pods: Sequence[Mapping[str, Any]], serving: Serving, keys: Keys
) -> weaviate.Endpoint | None:
    """A member to ask, preferring ready ones; None when no member has an address yet."""
    members = vectorplan.member_pods(ctx.name, pods)
    ready = {m.name for m in members if m.ready and not m.deleting}
    candidates = sorted(
        (pod for pod in pods if (pod.get("status") or {}).get("podIP")),
        key=lambda pod: (pod["metadata"]["name"] not in ready, pod["metadata"]["name"]),
    )
    if not candidates:
        return None
    address = candidates[0]["status"]["podIP"]
    tls = serving.secret_name is not None
    scheme = "https" if tls else "http"
    port = vector_members.client_port(tls)
    return weaviate.Endpoint(
        base_url=f"{scheme}://{address}:{port}",
        server_hostname=f"{vectornames.client_service(ctx.name)}.{ctx.namespace}.svc"
        if tls
        else None,
        ca_pem=serving.ca_pem,
        api_key=keys.operator_key,
    )


@dataclass(frozen=True)
class Members:
    """The StatefulSet as applied, and what stopped a scale-down (if anything)."""

    statefulset: Mapping[str, Any]
    replicas: int
    refusal: str | None = None


async def _replicas(
    ctx: VectorContext, current: int | None, access: weaviate.Endpoint | None
) -> tuple[int, str | None]:
    """The replica count to apply now, and the refusal message when it is not the spec's."""
    target = ctx.spec.replicas
    if current is None or target >= current:
        return target, None
    if vectorplan.voters(target) != vectorplan.voters(current):
        return current, (
            f"scale-down from {current} to {target} members refused: it would remove Raft "
            f"voters (the first {vectorplan.voters(current)} members vote); only members beyond "
            f"the fifth can be removed"
        )
    if access is None:
        return current, f"scale-down to {target} members waits: no member can be asked"
    try:
        payload = await weaviate.nodes(access)
    except weaviate.WeaviateError as error:
        return current, f"scale-down to {target} members waits: shard placement unknown: {error}"
    refusal = vectorplan.scale_down_refusal(
        ctx.name, current, target, vectorplan.shards_from_nodes(payload)
    )
    return (current, refusal) if refusal else (target, None)


def config_hash(keys: Keys, serving: Serving) -> str:
    return hashlib.sha256(f"{keys.digest}\n{serving.fingerprint}".encode()).hexdigest()[:32]


async def ensure_statefulset(
    ctx: VectorContext,
    keys: Keys,
    serving: Serving,
    backup_claim: str | None,
    pods: Sequence[Mapping[str, Any]],
) -> Members:
    name = vectornames.statefulset(ctx.name)
    existing = await ctx.kube.get("apps/v1", "StatefulSet", ctx.namespace, name)
    if existing is not None and not context.owned_by(existing, ctx.owner.uid):
        raise context.Blocked(
            conditions.Reason.INVALID_CONFIG,
            f"a StatefulSet named {name!r} exists and does not belong to this VectorCluster",
        )
    current = int(existing["spec"]["replicas"]) if existing is not None else None
    replicas, refusal = await _replicas(ctx, current, endpoint(ctx, pods, serving, keys))
    inputs = vector_members.Inputs(
        owner=ctx.owner,
        spec=ctx.spec,
        replicas=replicas,
        sidecar_image=ctx.settings.image,
        tls_secret=serving.secret_name,
        config_hash=config_hash(keys, serving),
        restart_token=ctx.annotations.get(vectornames.RESTART_REQUEST),
        backup_claim=backup_claim,
        claim_templates=(existing or {}).get("spec", {}).get("volumeClaimTemplates"),
    )
    applied = await ctx.kube.apply(vector_members.statefulset(inputs))
    return Members(applied, replicas, refusal)
