"""A Gateway and a VectorCluster of one namespace must not share a name: each names its Service,
its serving certificate's Secret and its CA's Secrets after itself, so namesakes would overwrite
each other's Service and certificates on every reconcile (and a CA kept by name would be
adopted by the other). The API server cannot refuse the second one (a validation rule sees one
object), so the operator decides: the one that made the Service of the name first keeps it (when
neither has made it yet, the one created first), the other is blocked, with a condition and an
Event that say to rename it, and makes nothing until then."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runestone_operator.core import context, kinds
from runestone_operator.core.conditions import Reason


def first(
    created: str, uid: str, other: Mapping[str, Any], service: Mapping[str, Any] | None
) -> bool:
    """Whether the object (`created`, `uid`) keeps the name against `other`: the one that holds
    the Service of that name (`service`, made by whichever reconcile got there first); when
    neither does, the one created first, and when both were created in the same second
    (timestamps are whole seconds), the lower uid. Both reconciles see the same three things, so
    exactly one of them keeps the name."""
    metadata = other.get("metadata") or {}
    if context.owned_by(service, uid):
        return True
    if context.owned_by(service, str(metadata.get("uid") or "")):
        return False
    theirs = str(metadata.get("creationTimestamp") or "")
    if created != theirs:
        return created < theirs
    return uid < str(metadata.get("uid") or "")


OTHER = {kinds.GATEWAY.name: kinds.VECTOR_CLUSTER, kinds.VECTOR_CLUSTER.name: kinds.GATEWAY}
"""The kind whose objects of one name would take this kind's children."""


async def ensure_name_free(ctx: context.Context[Any, Any]) -> None:
    """Blocked when an object of the other kind (`OTHER`), of this object's name and namespace,
    keeps the name (`first`). The Service of the name is read first: once this object holds it
    (every reconcile after its first), nothing else is read; while the other kind's object holds
    it, this one is blocked whatever else a read says."""
    other = OTHER[ctx.owner.kind]
    service = await ctx.kube.get("v1", "Service", ctx.namespace, ctx.name)
    if context.owned_by(service, ctx.owner.uid):
        return
    if not _held_by(service, other, ctx.name):
        namesake = await ctx.kube.get(kinds.API_VERSION, other.name, ctx.namespace, ctx.name)
        if namesake is None or first(ctx.created, ctx.owner.uid, namesake, service):
            return
    raise context.Blocked(
        Reason.NAME_TAKEN,
        f"a {other.name} named {ctx.name!r} exists in this namespace and came first; a "
        f"Gateway and a VectorCluster of one namespace cannot share a name (each names its "
        f"Service and certificate Secrets after itself): recreate this {ctx.owner.kind} under "
        "another name",
    )


def _held_by(service: Mapping[str, Any] | None, kind: kinds.Kind, name: str) -> bool:
    """Whether the Service is owned by the object of `kind` (of the Runestone API group) named
    `name`."""
    references = ((service or {}).get("metadata") or {}).get("ownerReferences") or []
    return any(
        reference.get("kind") == kind.name
        and reference.get("apiVersion") == kinds.API_VERSION
        and reference.get("name") == name
        for reference in references
    )
