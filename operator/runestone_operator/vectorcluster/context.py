"""What every VectorCluster step receives: the core's reconcile context, typed with the
VectorCluster's spec and status, and what steps derive from it."""

from __future__ import annotations

from typing import Any

from runestone_operator.core import context, kinds
from runestone_operator.vectorcluster import engine, model, names
from runestone_operator.vectorcluster.builders.cluster import Cluster

Context = context.Context[model.VectorClusterSpec, model.VectorClusterStatus]
LOADER = context.Loader(kinds.VECTOR_CLUSTER, model.VectorClusterSpec, model.VectorClusterStatus)


def cluster(ctx: Context, db: engine.Engine) -> Cluster:
    return Cluster(ctx.owner, db.name)


def tls(ctx: Context) -> bool:
    return ctx.spec.tls.mode != "none"


async def member_pods(ctx: Context) -> list[dict[str, Any]]:
    return await ctx.kube.list("v1", "Pod", ctx.namespace, names.label_selector(ctx.name))
