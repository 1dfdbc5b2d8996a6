"""RFC 3339 timestamps as Kubernetes writes them: UTC, whole seconds, a trailing `Z`."""

from __future__ import annotations

import datetime


def render(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime.datetime:
    """A timezone-aware instant; ValueError for anything else."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {text!r}")
    return moment


def truncate(moment: datetime.datetime) -> datetime.datetime:
    """`moment` in UTC without sub-second precision, so it survives a round trip through text."""
    return moment.astimezone(datetime.UTC).replace(microsecond=0)
