"""Hysteresis: N consecutive successes turn the condition True, M consecutive failures turn it
False, and anything in between leaves it as it was. Pure values, no I/O."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from runestone_sidecar import conditions
from runestone_sidecar.probes import base


@dataclass(frozen=True)
class Hysteresis:
    success_threshold: int
    failure_threshold: int
    ready: bool = False
    successes: int = 0  # consecutive, since the last failure
    failures: int = 0  # consecutive, since the last success

    def __post_init__(self) -> None:
        if self.success_threshold < 1 or self.failure_threshold < 1:
            raise ValueError("thresholds must be at least 1")

    def observe(self, ok: bool) -> Hysteresis:
        if ok:
            successes = self.successes + 1
            ready = self.ready or successes >= self.success_threshold
            return dataclasses.replace(self, ready=ready, successes=successes, failures=0)
        failures = self.failures + 1
        ready = self.ready and failures < self.failure_threshold
        return dataclasses.replace(self, ready=ready, successes=0, failures=failures)


def starting(success_threshold: int) -> conditions.Desired:
    """What the sidecar says before its probes have earned a verdict."""
    return conditions.Desired(
        False,
        conditions.STARTING,
        f"the sidecar started; waiting for {success_threshold} consecutive successful probe(s)",
    )


def step(
    state: Hysteresis, desired: conditions.Desired, result: base.ProbeResult
) -> tuple[Hysteresis, conditions.Desired]:
    """Fold one probe result into the state and the condition the pod should carry.

    A verdict changes only when a threshold is crossed. While not ready, the message follows the
    latest failure so that it always says what is wrong now; while ready, single failures below
    the threshold change nothing at all, so a flapping target does not make the pod flap. A
    result that `keeps_ready` holds back a pod that is not ready, and counts as a success for
    one that is: a target that is catching up must catch up before it takes traffic, but one that
    serves is not taken out of service for falling behind (every replica of a database falls
    behind together under a bulk load).
    """
    ok = result.ok or (result.keeps_ready and state.ready)
    after = state.observe(ok)
    if after.ready and not state.ready:
        return after, conditions.Desired(True, result.reason, result.message)
    if not after.ready and not ok:
        return after, conditions.Desired(False, result.reason, result.message)
    return after, desired
