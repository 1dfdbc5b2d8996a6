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


def first(created: str, uid: str, other: Mapping[str, Any]) -> bool:
    """Whether the object (`created`, `uid`) came before `other`; a tie in the timestamps (whole
    seconds) goes by uid, so both reconciles reach the same answer."""
    metadata = other.get("metadata") or {}
    theirs = (str(metadata.get("creationTimestamp") or ""), str(metadata.get("uid") or ""))
    return (created, uid) < theirs


async def ensure_name_free(ctx: context.Context[Any, Any], other: kinds.Kind) -> None:
    """Blocked when an `other` of this object's name and namespace was created first."""
    namesake = await ctx.kube.get(kinds.API_VERSION, other.name, ctx.namespace, ctx.name)
    if namesake is None or first(ctx.created, ctx.owner.uid, namesake):
        return
    raise context.Blocked(
        Reason.NAME_TAKEN,
        f"a {other.name} named {ctx.name!r} exists in this namespace and was created first; a "
        f"Gateway and a VectorCluster of one namespace cannot share a name (each names its "
        f"Service and certificate Secrets after itself): recreate this {ctx.owner.kind} under "
        "another name",
    )
