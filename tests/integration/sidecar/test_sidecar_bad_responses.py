"""Garbage, silence and resets from the target are failures with a clear reason; the sidecar
never crashes and its own health stays good."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from devcluster.sidecar import podenv, process, recorder, targets


def has_reason(reason: str, observation: recorder.Observation) -> bool:
    return observation.reason == reason


CASES = [
    (targets.GARBAGE, "BadResponse", "malformed"),
    (targets.HANG, "ProbeTimeout", "within 0.5s"),
    (targets.RESET, "TargetUnreachable", "the connection"),
]


def test_bad_answers_are_failures_with_reasons_and_never_crash_the_sidecar(
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    pod = watch_pod(gated_pod)
    sidecar = run_sidecar(
        gated_pod,
        *("--target", "http", "--url", http_target.url, "--period", "0.5"),
        *("--timeout", "0.5", "--failure-threshold", "1"),
    )
    pod.wait_for(lambda o: o.gate == "True", 60, "True")
    for mode, reason, words in CASES:
        mark = pod.count()
        http_target.set_mode(mode)
        seen = pod.wait_for(partial(has_reason, reason), 60, f"reason {reason}", mark)
        print(f"{mode}: {seen.reason}: {seen.message}")
        assert seen.gate == "False"
        assert seen.message is not None
        assert words in seen.message
        assert sidecar.alive()
        assert sidecar.get("/healthz")[0] == 200
        mark = pod.count()
        http_target.set_mode(targets.OK)
        pod.wait_for(lambda o: o.gate == "True", 60, "True again", mark)

    # Nothing listening at all.
    mark = pod.count()
    http_target.close()
    refused = pod.wait_for(lambda o: "refused" in (o.message or ""), 60, "refused", mark)
    assert (refused.gate, refused.reason) == ("False", "TargetUnreachable")
    assert sidecar.alive()


@pytest.mark.parametrize("mode", [targets.GARBAGE])
def test_metrics_count_failures_by_reason(
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
    mode: str,
) -> None:
    http_target.set_mode(mode)
    pod = watch_pod(gated_pod)
    sidecar = run_sidecar(
        gated_pod, "--target", "http", "--url", http_target.url, "--period", "0.5"
    )
    pod.wait_for(lambda o: o.reason == "BadResponse", 60, "BadResponse")
    assert sidecar.metric("runestone_sidecar_probe_results_total", reason="BadResponse") >= 1
