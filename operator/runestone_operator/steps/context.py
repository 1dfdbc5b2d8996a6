"""What every step receives, and how a step says it cannot go on."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runestone_operator import conditions, kube, settings, timestamps
from runestone_operator.builders import events, meta
from runestone_operator.models import gateway

logger = logging.getLogger(__name__)


class Blocked(Exception):
    """The reconcile cannot proceed until something outside the operator changes.

    `waiting` marks an expected wait (a certificate being issued) rather than a fault; the message
    is shown in conditions and Events, so it must never hold a secret."""

    def __init__(self, reason: str, message: str, *, waiting: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.waiting = waiting


def api_failure(error: kube.ApiError) -> Blocked:
    """A failed API call as a Degraded reason and message: what was asked (verb, resource,
    namespace, name) and the HTTP status, never the server's text nor any request body."""
    what = str(error.request) if error.request is not None else "make an API call"
    status = f"HTTP {error.status} {error.reason}".rstrip()
    if error.forbidden:
        return Blocked(
            conditions.Reason.API_FORBIDDEN,
            f"the API server refused to let the operator {what} ({status}); grant it in the "
            "operator's ClusterRole (`runestone operator --print-rbac` prints the one it needs)",
        )
    if error.status == 0:
        return Blocked(
            conditions.Reason.API_ERROR,
            f"could not reach the API server to {what} ({error.reason or 'no answer'}); retrying",
        )
    return Blocked(
        conditions.Reason.API_ERROR, f"the API server failed to {what} ({status}); retrying"
    )


def blocked_by(problem: Blocked | kube.ApiError, what: str) -> Blocked:
    """Why the reconcile of `what` (e.g. "gateway team/main") stopped, logged: a step's own
    Blocked as it is, an API failure as `api_failure` describes it. The server's words go to the
    log only, where they help the operator's admin; conditions and Events never carry them."""
    if isinstance(problem, kube.ApiError):
        logger.warning("%s: %s", what, problem)
        return api_failure(problem)
    logger.info("%s blocked: %s: %s", what, problem.reason, problem.message)
    return problem


@dataclass(frozen=True)
class Context:
    """One reconcile of one Gateway, as read at its start."""

    kube: kube.Kube
    settings: settings.Settings
    owner: meta.Owner
    spec: gateway.GatewaySpec
    status: gateway.GatewayStatus
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

    def note(self, event_type: str, reason: str, message: str) -> None:
        self.notes.append((event_type, reason, message))


def owned_by(obj: Mapping[str, Any] | None, uid: str) -> bool:
    """True when `obj` carries an owner reference to the object with `uid`."""
    references = ((obj or {}).get("metadata") or {}).get("ownerReferences") or []
    return any(reference.get("uid") == uid for reference in references)


async def delete_owned(ctx: Context, api_version: str, kind: str, name: str) -> bool:
    """Delete a child only if this Gateway owns it (never a user's object of the same name)."""
    existing = await ctx.kube.get(api_version, kind, ctx.namespace, name)
    if existing is None or not owned_by(existing, ctx.owner.uid):
        return False
    uid = existing["metadata"]["uid"]
    return await ctx.kube.delete(api_version, kind, ctx.namespace, name, uid=uid)


async def record_event(
    client: kube.Kube,
    involved: meta.Owner,
    event_type: str,
    reason: str,
    message: str,
    now: datetime.datetime,
) -> None:
    """Post an Event; losing one is logged, never fatal."""
    manifest = events.event(involved, event_type, reason, message, timestamps.render(now))
    try:
        await client.create(manifest)
    except kube.ApiError as error:
        logger.warning(
            "could not record event %s on %s/%s: %s",
            reason,
            involved.namespace,
            involved.name,
            error,
        )
