"""Steps 3 to 5: the members' identity, their Services, NetworkPolicy and PodDisruptionBudget, and
the StatefulSet itself, whose replica count only goes down once the engine confirms that its
membership allows it and that no shard would lose its last replica."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import conditions
from runestone_operator.core import context as core_context
from runestone_operator.core.steps import tls as core_tls
from runestone_operator.vectorcluster import context, engine, names, plan
from runestone_operator.vectorcluster.builders import access, members, network
from runestone_operator.vectorcluster.context import Context
from runestone_operator.vectorcluster.steps.keys import Keys


async def ensure_identity_and_network(ctx: Context, db: engine.Engine) -> None:
    cluster = context.cluster(ctx, db)
    tls = context.tls(ctx)
    for manifest in access.member_identity(cluster):
        await ctx.kube.apply(manifest)
    await ctx.kube.apply(network.headless_service(cluster, db))
    await ctx.kube.apply(network.client_service(cluster, db, tls))
    await ctx.kube.apply(network.network_policy(cluster, db, tls))
    await ctx.kube.apply(network.pdb(cluster))


def member_endpoint(
    ctx: Context,
    db: engine.Engine,
    pods: Sequence[Mapping[str, Any]],
    serving: core_tls.Serving,
    keys: Keys,
) -> engine.Endpoint | None:
    """A member to ask, preferring ready ones; None when no member has an address yet."""
    found = plan.member_pods(ctx.name, pods)
    ready = {m.name for m in found if m.ready and not m.deleting}
    candidates = sorted(
        (pod for pod in pods if (pod.get("status") or {}).get("podIP")),
        key=lambda pod: (pod["metadata"]["name"] not in ready, pod["metadata"]["name"]),
    )
    if not candidates:
        return None
    address = candidates[0]["status"]["podIP"]
    tls = serving.secret_name is not None
    scheme = "https" if tls else "http"
    return engine.Endpoint(
        base_url=f"{scheme}://{address}:{db.client_port(tls)}",
        server_hostname=f"{names.client_service(ctx.name)}.{ctx.namespace}.svc" if tls else None,
        ca_pem=serving.trust,
        api_key=keys.operator_key,
    )


@dataclass(frozen=True)
class Members:
    """The StatefulSet as applied, what stopped a scale-down (if anything), and what a member
    said about the cluster (None when none was asked or none answered)."""

    statefulset: Mapping[str, Any]
    replicas: int
    refusal: str | None = None
    topology: engine.Topology | None = None


async def _topology(
    db: engine.Engine, endpoint: engine.Endpoint | None
) -> tuple[engine.Topology | None, str]:
    """The engine's topology, or why it is unknown."""
    if endpoint is None:
        return None, "no member can be asked"
    try:
        return await db.topology(endpoint), ""
    except engine.EngineError as error:
        return None, f"shard placement unknown: {error}"


def _replicas(
    ctx: Context, db: engine.Engine, current: int | None, known: engine.Topology | None, why: str
) -> tuple[int, str | None]:
    """The replica count to apply now, and the refusal message when it is not the spec's."""
    target = ctx.spec.replicas
    if current is None or target >= current:
        return target, None
    refusal = db.membership_refusal(current, target)
    if refusal:
        return current, refusal
    if known is None:
        return current, f"scale-down to {target} members waits: {why}"
    refusal = plan.scale_down_refusal(ctx.name, current, target, known.shards)
    return (current, refusal) if refusal else (target, None)


def config_hash(keys: Keys, serving: core_tls.Serving) -> str:
    return hashlib.sha256(f"{keys.digest}\n{serving.fingerprint}".encode()).hexdigest()[:32]


async def ensure_statefulset(
    ctx: Context,
    db: engine.Engine,
    keys: Keys,
    serving: core_tls.Serving,
    backup_claim: str | None,
    endpoint: engine.Endpoint | None,
) -> Members:
    name = names.statefulset(ctx.name)
    existing = await ctx.kube.get("apps/v1", "StatefulSet", ctx.namespace, name)
    if existing is not None and not core_context.owned_by(existing, ctx.owner.uid):
        raise core_context.Blocked(
            conditions.Reason.INVALID_CONFIG,
            f"a StatefulSet named {name!r} exists and does not belong to this VectorCluster",
        )
    current = int(existing["spec"]["replicas"]) if existing is not None else None
    known, why = await _topology(db, endpoint)
    replicas, refusal = _replicas(ctx, db, current, known, why)
    inputs = members.Inputs(
        cluster=context.cluster(ctx, db),
        engine=db,
        spec=ctx.spec,
        replicas=replicas,
        sidecar_image=ctx.settings.image,
        tls_secret=serving.secret_name,
        config_hash=config_hash(keys, serving),
        restart_token=ctx.annotations.get(names.RESTART_REQUEST),
        backup_claim=backup_claim,
        claim_templates=(existing or {}).get("spec", {}).get("volumeClaimTemplates"),
        gateway_users=keys.gateway_users,
    )
    applied = await ctx.kube.apply(members.statefulset(inputs))
    return Members(applied, replicas, refusal, known)
