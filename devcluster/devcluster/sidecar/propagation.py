"""Measure propagation: target health change -> gate condition change -> pod Ready change,
over several flips. Shared by the integration test and bench/sidecar_propagation.py."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from devcluster.sidecar import recorder, targets


@dataclass(frozen=True)
class Flip:
    to_ready: bool
    changed_at: float  # when the target's health changed (monotonic)
    condition_at: float  # when the watch saw the gate condition change
    ready_at: float  # when the watch saw the pod's Ready condition follow

    @property
    def to_condition(self) -> float:
        return self.condition_at - self.changed_at

    @property
    def to_pod_ready(self) -> float:
        return self.ready_at - self.changed_at


def flip(
    pod: recorder.PodRecorder, target: targets.HttpTarget, to_ready: bool, timeout: float = 120
) -> Flip:
    mark = pod.count()
    status = "True" if to_ready else "False"
    changed = target.set_mode(targets.OK if to_ready else targets.FAIL)
    gate = pod.wait_for(lambda o: o.gate == status, timeout, f"gate {status}", mark)
    ready = pod.wait_for(lambda o: o.ready == status, timeout, f"Ready {status}", mark)
    return Flip(to_ready, changed, gate.at, ready.at)


def run(
    pod: recorder.PodRecorder, target: targets.HttpTarget, count: int, period: float, seed: int = 7
) -> list[Flip]:
    """`count` flips, alternating, starting from the pod being Ready.

    Each flip waits a random fraction of a probe period first. Without it every flip would land
    just after the probe that ended the previous one, and each measurement would be one whole
    period: the jitter samples where in the probe cycle a real change falls.
    """
    rng = random.Random(seed)
    pod.wait_for(lambda o: o.gate == "True" and o.ready == "True", 120, "a Ready pod to start")
    flips = []
    for index in range(count):
        time.sleep(rng.uniform(0, period))  # de-phasing, not synchronisation
        flips.append(flip(pod, target, to_ready=index % 2 == 1))
    return flips


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (with few samples, p99 is the largest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(flips: list[Flip]) -> str:
    up = [f for f in flips if f.to_ready]
    down = [f for f in flips if not f.to_ready]
    lines = [f"{len(flips)} flips ({len(up)} to ready, {len(down)} to not ready)"]
    rows = [
        ("target change -> condition change", [f.to_condition for f in flips]),
        ("  of which to ready", [f.to_condition for f in up]),
        ("  of which to not ready", [f.to_condition for f in down]),
        ("target change -> pod Ready change", [f.to_pod_ready for f in flips]),
        ("condition change -> pod Ready change", [f.ready_at - f.condition_at for f in flips]),
    ]
    for label, values in rows:
        if not values:
            continue
        lines.append(
            f"  {label:<38} p50 {percentile(values, 50):.3f}s  p99 {percentile(values, 99):.3f}s"
            f"  min {min(values):.3f}s  max {max(values):.3f}s"
        )
    return "\n".join(lines)
