"""A VectorCluster reconcile: the ordered steps, with an early stop (status still written) when
one is blocked. Weaviate is asked (through `runestone_operator.weaviate`) only what Kubernetes
cannot tell: shard placement, backup progress and per-member shard counts."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import pydantic

from runestone_operator import kube, readiness, settings, timestamps, weaviate, workqueue
from runestone_operator.builders import meta
from runestone_operator.models import common, vectorcluster
from runestone_operator.steps import (
    context,
    vector_backup,
    vector_keys,
    vector_members,
    vector_rollout,
    vector_status,
    vector_tls,
)
from runestone_operator.steps.vector_context import VectorContext

logger = logging.getLogger(__name__)

SETTLING_SECONDS = 5.0
"""How soon to look again while members restart, scale or back up (pod events also wake us)."""


def _status(body: dict[str, Any]) -> vectorcluster.VectorClusterStatus:
    try:
        return vectorcluster.VectorClusterStatus.model_validate(body.get("status") or {})
    except pydantic.ValidationError:
        return vectorcluster.VectorClusterStatus()  # rewritten from scratch below


async def _nodes(access: weaviate.Endpoint | None) -> dict[str, Any] | None:
    if access is None:
        return None
    try:
        return await weaviate.nodes(access)
    except weaviate.WeaviateError as error:
        logger.info("weaviate /v1/nodes: %s", error)
        return None


async def reconcile(
    client: kube.Kube, config: settings.Settings, namespace: str, name: str, now: datetime.datetime
) -> workqueue.Outcome:
    body = await client.get(common.API_VERSION, vectorcluster.KIND, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return workqueue.Outcome()  # owner references let the garbage collector do the rest
    metadata = body["metadata"]
    owner = meta.Owner(common.API_VERSION, vectorcluster.KIND, namespace, name, metadata["uid"])
    ctx = VectorContext(
        kube=client,
        settings=config,
        owner=owner,
        spec=vectorcluster.VectorClusterSpec.model_validate(body.get("spec") or {}),
        status=_status(body),
        generation=int(metadata.get("generation", 0)),
        annotations=metadata.get("annotations") or {},
        now=timestamps.truncate(now),
    )
    pods = await ctx.member_pods()
    findings = vector_status.Findings()
    nodes: dict[str, Any] | None = None
    serving: vector_tls.Serving | None = None
    try:
        keys = await vector_keys.ensure_keys(ctx)
        serving = await vector_tls.ensure_tls(ctx)
        await vector_members.ensure_identity_and_network(ctx)
        claim = await vector_backup.ensure_backup_children(ctx)
        members = await vector_members.ensure_statefulset(ctx, keys, serving, claim, pods)
        restart = await vector_rollout.ensure_rollout(
            ctx, members.statefulset, members.replicas, pods
        )
        access = vector_members.endpoint(ctx, pods, serving, keys)
        backup = await vector_backup.ensure_backup_request(ctx, access)
        nodes = await _nodes(access)
        findings = vector_status.Findings(
            statefulset=members.statefulset,
            refusal=members.refusal,
            restart=restart,
            backup=backup,
        )
    except (context.Blocked, kube.ApiError) as problem:
        blocked = context.blocked_by(problem, f"vectorcluster {namespace}/{name}")
        try:
            statefulset = await client.get("apps/v1", "StatefulSet", namespace, name)
        except kube.ApiError:
            statefulset = None  # the status says what it can without it
        blocker = readiness.Blocker(blocked.reason, blocked.message, blocked.waiting)
        findings = vector_status.Findings(blocker=blocker, statefulset=statefulset)
        await vector_status.ensure_status(ctx, pods, None, findings)
        return workqueue.Outcome(retry=True)
    await vector_status.ensure_status(ctx, pods, nodes, findings)
    busy = (
        (findings.restart is None or not findings.restart.done)
        or bool(findings.refusal)
        or bool(findings.backup and findings.backup.running)
        or len(pods) != ctx.spec.replicas
    )
    if busy:
        return workqueue.Outcome(requeue_after=SETTLING_SECONDS)
    if serving is not None and serving.renew_at is not None:
        wake = max((serving.renew_at - ctx.now).total_seconds(), 0.0) + 1.0
        return workqueue.Outcome(requeue_after=wake)
    return workqueue.Outcome()
