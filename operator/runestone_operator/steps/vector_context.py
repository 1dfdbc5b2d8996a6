"""What every VectorCluster step receives. Steps stop a reconcile the same way the Gateway's do,
by raising `steps.context.Blocked`."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runestone_operator import kube, settings, vectornames
from runestone_operator.builders import meta
from runestone_operator.models import vectorcluster
from runestone_operator.steps import context


@dataclass(frozen=True)
class VectorContext:
    """One reconcile of one VectorCluster, as read at its start."""

    kube: kube.Kube
    settings: settings.Settings
    owner: meta.Owner
    spec: vectorcluster.VectorClusterSpec
    status: vectorcluster.VectorClusterStatus
    generation: int
    annotations: Mapping[str, str]
    now: datetime.datetime
    notes: list[tuple[str, str, str]] = field(default_factory=list)
    """Events to record once the reconcile ends: (type, reason, message)."""

    @property
    def namespace(self) -> str:
        return self.owner.namespace

    @property
    def name(self) -> str:
        return self.owner.name

    @property
    def tls(self) -> bool:
        return self.spec.tls.mode != "none"

    def note(self, event_type: str, reason: str, message: str) -> None:
        self.notes.append((event_type, reason, message))

    async def member_pods(self) -> list[dict[str, Any]]:
        return await self.kube.list(
            "v1", "Pod", self.namespace, vectornames.label_selector(self.name)
        )


async def delete_owned(ctx: VectorContext, api_version: str, kind: str, name: str) -> bool:
    """Delete a child only if this VectorCluster owns it (never a user's object of that name)."""
    existing = await ctx.kube.get(api_version, kind, ctx.namespace, name)
    if existing is None or not context.owned_by(existing, ctx.owner.uid):
        return False
    uid = existing["metadata"]["uid"]
    return await ctx.kube.delete(api_version, kind, ctx.namespace, name, uid=uid)
