"""How the operator runs: one frozen value built by the CLI from flags and environment."""

from __future__ import annotations

from dataclasses import dataclass

from runestone_operator.core import names

DEFAULT_RESYNC_SECONDS = 30.0
DEFAULT_LIVENESS_ENDPOINT = "http://0.0.0.0:8080/healthz"
DEFAULT_LEASE_NAME = "runestone-operator"
DEFAULT_DRAIN_SECONDS = 20.0
"""Below the chart's terminationGracePeriodSeconds (drain + 10 s), which leaves time to release
the Lease and stop the watches after the drain."""


@dataclass(frozen=True)
class Settings:
    image: str = names.DEFAULT_IMAGE
    """The image of gateway pods unless a Gateway sets `spec.image` (the operator's own image)."""
    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty means every namespace."""
    resync_seconds: float = DEFAULT_RESYNC_SECONDS
    """Every object is reconciled at least this often, which corrects drift made by hand."""
    liveness_endpoint: str | None = DEFAULT_LIVENESS_ENDPOINT
    liveness_max_age_seconds: float | None = None
    """Liveness fails when no watch event and no resync pass happened for this long
    (default: four resync periods, at least two minutes)."""
    workers: int = 4
    """Objects reconciled concurrently (one object is never reconciled twice at once)."""
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    lease_namespace: str | None = None
    """Where the leader-election Lease lives; None runs without leader election (this process
    always reconciles)."""
    lease_name: str = DEFAULT_LEASE_NAME
    identity: str = "runestone-operator"
    """This process in the Lease's `holderIdentity`: unique per process."""
    drain_seconds: float = DEFAULT_DRAIN_SECONDS
    """On SIGTERM, how long running reconciles may take to finish before they are cancelled."""

    @property
    def all_namespaces(self) -> bool:
        return not self.namespaces

    @property
    def liveness_max_age(self) -> float:
        if self.liveness_max_age_seconds is not None:
            return self.liveness_max_age_seconds
        return max(4 * self.resync_seconds, 120.0)
