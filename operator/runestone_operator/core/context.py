"""What every step receives, how a reconcile starts (`Loader`), and how a step says it cannot go
on (`Blocked`)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pydantic

from runestone_operator.core import (
    conditions,
    events,
    kinds,
    kube,
    meta,
    names,
    readiness,
    settings,
    timestamps,
)

logger = logging.getLogger(__name__)

SpecT = TypeVar("SpecT", bound=pydantic.BaseModel)
StatusT = TypeVar("StatusT", bound=pydantic.BaseModel)


class Blocked(Exception):
    """The reconcile cannot proceed until something outside the operator changes.

    `waiting` marks an expected wait (a certificate being issued) rather than a fault; the message
    is shown in conditions and Events, so it must never hold a secret."""

    def __init__(self, reason: str, message: str, *, waiting: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.waiting = waiting

    def blocker(self) -> readiness.Blocker:
        return readiness.Blocker(self.reason, self.message, self.waiting)


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
class Context(Generic[SpecT, StatusT]):
    """One reconcile of one object, as read at its start."""

    kube: kube.Kube
    settings: settings.Settings
    owner: meta.Owner
    spec: SpecT
    status: StatusT
    generation: int
    annotations: Mapping[str, str]
    now: datetime.datetime
    fresh: bool = False
    """The operator has never written this object's status: no reconcile of it has finished."""
    created: str = ""
    """`metadata.creationTimestamp` (RFC 3339, whole seconds)."""
    notes: list[tuple[str, str, str]] = field(default_factory=list)
    """Events to record once the reconcile ends: (type, reason, message)."""

    @property
    def namespace(self) -> str:
        return self.owner.namespace

    @property
    def name(self) -> str:
        return self.owner.name

    @property
    def what(self) -> str:
        """The object in log lines, e.g. "gateway team/main"."""
        return f"{self.owner.kind.lower()} {self.namespace}/{self.name}"

    def note(self, event_type: str, reason: str, message: str) -> None:
        self.notes.append((event_type, reason, message))


@dataclass(frozen=True)
class Loader(Generic[SpecT, StatusT]):
    """How a kind's objects are read into a `Context`: the kind, and its spec and status models."""

    kind: kinds.Kind
    spec: type[SpecT]
    status: type[StatusT]

    async def load(
        self,
        client: kube.Kube,
        config: settings.Settings,
        namespace: str,
        name: str,
        now: datetime.datetime,
    ) -> Context[SpecT, StatusT] | None:
        """Read the object and start its reconcile; None when it is gone or being deleted (owner
        references let the garbage collector do the rest). A status the model cannot read is
        rewritten from scratch."""
        body = await client.get(kinds.API_VERSION, self.kind.name, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return None
        metadata = body["metadata"]
        try:
            current = self.status.model_validate(body.get("status") or {})
        except pydantic.ValidationError:
            current = self.status()
        return Context(
            kube=client,
            settings=config,
            owner=meta.Owner(kinds.API_VERSION, self.kind.name, namespace, name, metadata["uid"]),
            spec=self.spec.model_validate(body.get("spec") or {}),
            status=current,
            generation=int(metadata.get("generation", 0)),
            annotations=metadata.get("annotations") or {},
            now=timestamps.truncate(now),
            fresh="observedGeneration" not in (body.get("status") or {}),
            created=str(metadata.get("creationTimestamp") or ""),
        )


def owned_by(obj: Mapping[str, Any] | None, uid: str) -> bool:
    """True when `obj` carries an owner reference to the object with `uid`."""
    references = ((obj or {}).get("metadata") or {}).get("ownerReferences") or []
    return any(reference.get("uid") == uid for reference in references)


def retained_for(obj: Mapping[str, Any] | None, owner: meta.Owner) -> bool:
    """True when `obj` is a child the operator keeps without an owner reference (so that it
    outlives its owner) for an object of `owner`'s name."""
    metadata = (obj or {}).get("metadata") or {}
    labels = metadata.get("labels") or {}
    return (
        not metadata.get("ownerReferences")
        and labels.get(names.LABEL_MANAGED_BY) == names.MANAGED_BY
        and labels.get(names.LABEL_INSTANCE) == owner.name
    )


async def delete_owned(ctx: Context[Any, Any], api_version: str, kind: str, name: str) -> bool:
    """Delete a child only if it is this object's, owned or retained for it (never a user's
    object of the same name)."""
    existing = await ctx.kube.get(api_version, kind, ctx.namespace, name)
    if existing is None or not (
        owned_by(existing, ctx.owner.uid) or retained_for(existing, ctx.owner)
    ):
        return False
    uid = existing["metadata"]["uid"]
    return await ctx.kube.delete(api_version, kind, ctx.namespace, name, uid=uid)


async def remove_optional(ctx: Context[Any, Any], api_version: str, kind: str, name: str) -> bool:
    """Delete an optional child the spec does not ask for (an autoscaler, a ServiceMonitor), if
    this object made it. Before its first reconcile has finished (`Context.fresh`) the object has
    made none, and nothing is read: a namesake's children carry the namesake's uid, which
    `delete_owned` would leave alone anyway. (A reconcile that dies after making a child and
    before writing the status leaves it for the reconcile after the next.)"""
    if ctx.fresh:
        return False
    return await delete_owned(ctx, api_version, kind, name)


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
