"""Propagation latency, measured and printed (not asserted): target health change to condition
change, and to the pod's Ready change, over several flips. bench/sidecar_propagation.py runs the
same measurement on its own."""

from __future__ import annotations

from collections.abc import Callable

from devcluster.sidecar import podenv, process, propagation, recorder, targets

PERIOD = 1.0
FLIPS = 8


def test_propagation_latency(
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    pod = watch_pod(gated_pod)
    run_sidecar(
        gated_pod,
        *("--target", "http", "--url", http_target.url, "--period", str(PERIOD)),
        *("--success-threshold", "1", "--failure-threshold", "1"),
    )
    flips = propagation.run(pod, http_target, FLIPS, PERIOD)
    print(f"period {PERIOD}s, thresholds 1/1: {propagation.summary(flips)}")
    assert len(flips) == FLIPS
    for each in flips:
        assert each.changed_at <= each.condition_at <= each.ready_at
