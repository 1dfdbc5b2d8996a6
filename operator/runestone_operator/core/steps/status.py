"""The last step of every reconcile (always run, also after a step was blocked): the object's
status, written only when it changed, and the Events that go with what happened. Each kind says
what it observed; merging conditions, writing and posting are the same for all."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, TypeVar

from runestone_operator.core import conditions, context, events, kube, meta, models

StatusT = TypeVar("StatusT", bound=models.Status)


def document(status: models.Status) -> dict[str, Any]:
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


def merged(
    ctx: context.Context[Any, StatusT], observed: Sequence[conditions.Observation]
) -> list[models.Condition]:
    """The object's conditions after `observed` (see `conditions.merge`)."""
    return conditions.merge(ctx.status.conditions, observed, ctx.generation, ctx.now)


async def write_status(client: kube.Kube, owner: meta.Owner, current: Any, new: Any) -> bool:
    """Apply `new` to the status subresource unless it equals `current`; True when written."""
    written = document(new)
    if written == document(current):
        return False
    await client.apply_status(owner.api_version, owner.kind, owner.namespace, owner.name, written)
    return True


async def degraded_events(
    client: kube.Kube,
    owner: meta.Owner,
    before: Sequence[models.Condition],
    after: Sequence[models.Condition],
    now: datetime.datetime,
) -> None:
    """A Warning when a problem appears or changes, a Normal event when it clears."""
    old = conditions.find(before, conditions.DEGRADED)
    new = conditions.find(after, conditions.DEGRADED)
    if new is None:
        return
    if new.status == conditions.TRUE and (
        old is None or (old.status, old.message) != (new.status, new.message)
    ):
        await context.record_event(client, owner, events.WARNING, new.reason, new.message, now)
    elif new.status == conditions.FALSE and old is not None and old.status == conditions.TRUE:
        await context.record_event(
            client,
            owner,
            events.NORMAL,
            conditions.Reason.RECONCILED,
            "the problem is resolved",
            now,
        )


async def publish(ctx: context.Context[Any, StatusT], new: StatusT) -> str | None:
    """Write `new` (when it differs from the status read at the start), post the Events a change
    of Degraded calls for, then the Events the steps noted. Returns the reason of the Degraded
    condition written, when it is True (the reconcile's outcome carries it to the metrics)."""
    await write_status(ctx.kube, ctx.owner, ctx.status, new)
    await degraded_events(ctx.kube, ctx.owner, ctx.status.conditions, new.conditions, ctx.now)
    for event_type, reason, message in ctx.notes:
        await context.record_event(ctx.kube, ctx.owner, event_type, reason, message, ctx.now)
    degraded = conditions.find(new.conditions, conditions.DEGRADED)
    return degraded.reason if degraded and degraded.status == conditions.TRUE else None
