"""A target that flaps inside the thresholds does not make the condition flap: the pod's
condition is watched, and every status change the API server stored is counted."""

from __future__ import annotations

import time
from collections.abc import Callable

from devcluster.sidecar import podenv, process, recorder, targets

PERIOD = 0.5
SUCCESS_THRESHOLD = 2
FAILURE_THRESHOLD = 3


def wait_for_requests(target: targets.HttpTarget, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while target.requests() < count:
        assert time.monotonic() < deadline, f"only {target.requests()} of {count} probes arrived"
        time.sleep(0.05)


def test_flapping_inside_the_thresholds_does_not_flap_the_condition(
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    pod = watch_pod(gated_pod)
    run_sidecar(
        gated_pod,
        *("--target", "http", "--url", http_target.url, "--period", str(PERIOD)),
        *("--success-threshold", str(SUCCESS_THRESHOLD)),
        *("--failure-threshold", str(FAILURE_THRESHOLD)),
    )
    ready = pod.wait_for(lambda o: o.gate == "True", 60, "True")

    # Up: two failures then a success, six times over: never three failures in a row.
    mark, served = pod.count(), http_target.requests()
    http_target.script([targets.FAIL, targets.FAIL, targets.OK] * 6, then=targets.OK)
    wait_for_requests(http_target, served + 18 + 2)
    up_flaps = pod.gate_transitions(mark)
    print(f"18 flapping probes while True: {up_flaps} condition transitions")
    assert up_flaps == 0
    assert pod.observations[-1].gate == "True"
    assert pod.observations[-1].transition == ready.transition

    # Down: three failures make it False ...
    mark = pod.count()
    http_target.set_mode(targets.FAIL)
    down = pod.wait_for(lambda o: o.gate == "False", 60, "False", mark)
    # ... then a success and a failure, eight times over: never two successes in a row.
    mark, served = pod.count(), http_target.requests()
    http_target.script([targets.OK, targets.FAIL] * 8, then=targets.FAIL)
    wait_for_requests(http_target, served + 16 + 2)
    down_flaps = pod.gate_transitions(mark)
    print(f"16 flapping probes while False: {down_flaps} condition transitions")
    assert down_flaps == 0
    assert pod.observations[-1].gate == "False"
    assert pod.observations[-1].transition == down.transition

    # Crossing the threshold still works: two successes in a row make it True again.
    mark = pod.count()
    http_target.set_mode(targets.OK)
    pod.wait_for(lambda o: o.gate == "True", 60, "True again", mark)
    assert pod.gate_transitions(mark) == 1
