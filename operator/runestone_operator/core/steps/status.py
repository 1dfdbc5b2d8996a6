"""The last step of every reconcile (always run, also after a step was blocked): the object's
status, written only when it changed, and the Events that go with what happened. Each kind says
what it observed; merging conditions, writing and posting are the same for all."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
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


WARNINGS: Mapping[str, models.ConditionStatus] = {conditions.DEGRADED: conditions.TRUE}
"""The conditions whose given status is a warning, by type (every kind has Degraded)."""


async def warning_events(
    client: kube.Kube,
    owner: meta.Owner,
    before: Sequence[models.Condition],
    after: Sequence[models.Condition],
    now: datetime.datetime,
    warnings: Mapping[str, models.ConditionStatus] = WARNINGS,
) -> None:
    """For each condition of `warnings`: a Warning Event when it turns to its warning status or
    its message changes there, a Normal Event when it leaves it (Degraded: "the problem is
    resolved"; others: their new reason and message)."""
    for kind, warning in warnings.items():
        old = conditions.find(before, kind)
        new = conditions.find(after, kind)
        if new is None:
            continue
        if new.status == warning and (
            old is None or (old.status, old.message) != (new.status, new.message)
        ):
            await context.record_event(client, owner, events.WARNING, new.reason, new.message, now)
        elif new.status != warning and old is not None and old.status == warning:
            reason, message = new.reason, new.message
            if kind == conditions.DEGRADED:
                reason, message = conditions.Reason.RECONCILED, "the problem is resolved"
            await context.record_event(client, owner, events.NORMAL, reason, message, now)


async def publish(
    ctx: context.Context[Any, StatusT],
    new: StatusT,
    warnings: Mapping[str, models.ConditionStatus] = WARNINGS,
) -> str | None:
    """Write `new` (when it differs from the status read at the start), post the Events a change
    of a warning condition calls for, then the Events the steps noted. Returns the reason of the
    Degraded condition written, when it is True (the reconcile's outcome carries it to the
    metrics)."""
    await write_status(ctx.kube, ctx.owner, ctx.status, new)
    await warning_events(
        ctx.kube, ctx.owner, ctx.status.conditions, new.conditions, ctx.now, warnings
    )
    for event_type, reason, message in ctx.notes:
        await context.record_event(ctx.kube, ctx.owner, event_type, reason, message, ctx.now)
    degraded = conditions.find(new.conditions, conditions.DEGRADED)
    return degraded.reason if degraded and degraded.status == conditions.TRUE else None
