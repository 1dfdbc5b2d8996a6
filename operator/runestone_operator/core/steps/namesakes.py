"""A Gateway and a VectorCluster of one namespace must not share a name: each names its Service,
its serving certificate's Secret and its CA's Secrets after itself, so namesakes would overwrite
each other's Service and certificates on every reconcile (and a CA kept by name would be
adopted by the other). The API server cannot refuse the second one (a validation rule sees one
object), so the operator decides: the one created first keeps the name, the other is blocked,
with a condition and an Event that say to rename it, and makes nothing until then."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runestone_operator.core import context, kinds
from runestone_operator.core.conditions import Reason


def first(
    created: str, uid: str, other: Mapping[str, Any], service: Mapping[str, Any] | None
) -> bool:
    """Whether the object (`created`, `uid`) keeps the name against `other`: the one created
    first; when both were created in the same second (timestamps are whole seconds), the one
    whose Service of that name (`service`) is there already, else the lower uid. Both
    reconciles see the same three things, so exactly one of them keeps the name."""
    metadata = other.get("metadata") or {}
    theirs = str(metadata.get("creationTimestamp") or "")
    if created != theirs:
        return created < theirs
    if service is not None and context.owned_by(service, uid):
        return True
    if service is not None and context.owned_by(service, str(metadata.get("uid") or "")):
        return False
    return uid < str(metadata.get("uid") or "")


OTHER = {kinds.GATEWAY.name: kinds.VECTOR_CLUSTER, kinds.VECTOR_CLUSTER.name: kinds.GATEWAY}
"""The kind whose objects of one name would take this kind's children."""


async def ensure_name_free(ctx: context.Context[Any, Any]) -> None:
    """Blocked when an object of the other kind (`OTHER`), of this object's name and namespace,
    keeps the name (`first`)."""
    other = OTHER[ctx.owner.kind]
    namesake = await ctx.kube.get(kinds.API_VERSION, other.name, ctx.namespace, ctx.name)
    if namesake is None:
        return
    tie = ctx.created == str((namesake.get("metadata") or {}).get("creationTimestamp") or "")
    service = await ctx.kube.get("v1", "Service", ctx.namespace, ctx.name) if tie else None
    if first(ctx.created, ctx.owner.uid, namesake, service):
        return
    raise context.Blocked(
        Reason.NAME_TAKEN,
        f"a {other.name} named {ctx.name!r} exists in this namespace and came first; a "
        f"Gateway and a VectorCluster of one namespace cannot share a name (each names its "
        f"Service and certificate Secrets after itself): recreate this {ctx.owner.kind} under "
        "another name",
    )
