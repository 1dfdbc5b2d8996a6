"""What every probe returns, and how transport failures become reasons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from runestone_sidecar import conditions, httpclient


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    reason: str  # a conditions.* constant
    message: str  # says what was asked and what came back; never a credential
    keeps_ready: bool = False
    """A failure that only holds a pod back: the target serves but has not caught up yet (a
    database still indexing what it stored). It keeps a pod that is not ready from turning
    ready, and counts as a success for a pod that is ready already."""


class Probe(Protocol):
    @property
    def describe(self) -> str:
        """What this probe checks, for logs."""
        ...

    async def check(self) -> ProbeResult: ...


def success(message: str) -> ProbeResult:
    return ProbeResult(True, conditions.TARGET_READY, message)


def failure(reason: str, message: str) -> ProbeResult:
    return ProbeResult(False, reason, message)


def catching_up(reason: str, message: str) -> ProbeResult:
    return ProbeResult(False, reason, message, keeps_ready=True)


_TRANSPORT_REASONS = {
    httpclient.KIND_TIMEOUT: conditions.PROBE_TIMEOUT,
    httpclient.KIND_MALFORMED: conditions.BAD_RESPONSE,
    httpclient.KIND_TLS: conditions.BAD_RESPONSE,
}


def from_transport(what: str, error: httpclient.TransportError) -> ProbeResult:
    reason = _TRANSPORT_REASONS.get(error.kind, conditions.TARGET_UNREACHABLE)
    return failure(reason, f"{what}: {error.message}")
