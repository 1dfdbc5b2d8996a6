"""A generic HTTP target: healthy turns the condition True within one period plus the threshold,
failing turns it False with a reason and a message that says what failed."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from devcluster.kube import eventually
from devcluster.sidecar import podenv, process, recorder, targets

PERIOD = 1.0
SUCCESS_THRESHOLD = 2
FAILURE_THRESHOLD = 2


def test_healthy_turns_true_then_failing_turns_false_with_a_reason(
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    pod = watch_pod(gated_pod)
    started = time.monotonic()
    sidecar = run_sidecar(
        gated_pod,
        *("--target", "http", "--url", http_target.url, "--period", str(PERIOD)),
        *("--success-threshold", str(SUCCESS_THRESHOLD)),
        *("--failure-threshold", str(FAILURE_THRESHOLD)),
    )
    ready = pod.wait_for(lambda o: o.gate == "True", 60, "the condition to turn True")
    first_probe = http_target.served[0][0]
    budget = PERIOD * SUCCESS_THRESHOLD  # one period plus (threshold - 1) more probes
    print(
        f"True {ready.at - first_probe:.2f}s after the first probe "
        f"({ready.at - started:.2f}s after start); one period plus the threshold is {budget:.1f}s"
    )
    assert ready.reason == "TargetReady"
    assert ready.message == f"GET {http_target.url} answered 200"

    mark = pod.count()
    changed = http_target.set_mode(targets.FAIL)
    down = pod.wait_for(lambda o: o.gate == "False", 60, "the condition to turn False", mark)
    print(f"False {down.at - changed:.2f}s after the target started failing")
    assert down.reason == "TargetNotReady"
    assert down.message is not None
    assert "answered 503" in down.message
    assert "no upstream provider is healthy" in down.message  # the target's own explanation
    assert down.transition != ready.transition

    # A different failure while False: the reason and message follow it, lastTransitionTime
    # stays. (Timestamps have whole seconds; let the clock pass the transition's second first,
    # so that an unchanged timestamp means something.)
    transition = datetime.datetime.fromisoformat(str(down.transition))
    eventually(
        lambda: datetime.datetime.now(datetime.UTC) >= transition + datetime.timedelta(seconds=2),
        what="the clock to move past the transition",
    )
    mark = pod.count()
    http_target.set_mode(targets.GARBAGE)
    garbage = pod.wait_for(lambda o: o.reason == "BadResponse", 60, "reason BadResponse", mark)
    assert garbage.gate == "False"
    assert garbage.transition == down.transition
    assert pod.gate_transitions(mark) == 0

    # The metrics saw it too (the gauge moves once the patch's answer is back, just after the
    # watch may have seen the change).
    assert sidecar.metric("runestone_sidecar_probe_results_total", result="failure") >= 2
    eventually(
        lambda: sidecar.metric("runestone_sidecar_condition_status") == 0,
        what="the condition gauge to read 0",
    )
    assert sidecar.alive()
