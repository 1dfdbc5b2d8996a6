"""An unreachable API server: the sidecar backs off, keeps probing, and once the server is back
it writes the verdict the probes reached meanwhile. Two ways to be unreachable: kube-apiserver
stopped and restarted (connections refused), and frozen with SIGSTOP (connections hang)."""

from __future__ import annotations

import time
from collections.abc import Callable

from devcluster.kube import Cluster
from devcluster.sidecar import podenv, process, recorder, targets
from integration.sidecar import apiserver

PERIOD = 1.0


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)


def keeps_probing_while_away(
    sidecar: process.SidecarProcess, target: targets.HttpTarget, condition: str
) -> None:
    """While the API server is away: probes go on and write attempts fail and back off."""
    served = target.requests()
    wait_until(lambda: target.requests() >= served + 5, 120, "five more probes")
    wait_until(
        lambda: (
            sidecar.metric(
                "runestone_sidecar_patch_errors_total", condition=condition, kind="unreachable"
            )
            >= 2
        ),
        120,
        "failed, backed-off writes",
    )
    assert sidecar.metric("runestone_sidecar_condition_in_sync") == 0
    assert sidecar.get("/healthz")[0] == 200
    assert sidecar.alive()


def test_api_server_stopped_and_restarted(
    kube_cluster: Cluster,
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
    apiserver_control: apiserver.ApiServerControl,
) -> None:
    pod = watch_pod(gated_pod)
    sidecar = run_sidecar(
        gated_pod,
        *("--target", "http", "--url", http_target.url, "--period", str(PERIOD)),
        *("--failure-threshold", "2", "--backoff-cap", "5"),
    )
    pod.wait_for(lambda o: o.gate == "True", 60, "True")

    mark = pod.count()
    stopped = apiserver_control.stop()
    http_target.set_mode(targets.FAIL)  # the target fails while nobody can be told
    keeps_probing_while_away(sidecar, http_target, gated_pod.condition)
    print(f"kube-apiserver down for {time.monotonic() - stopped:.1f}s so far; restarting")
    back = apiserver_control.start()

    corrected = pod.wait_for(lambda o: o.gate == "False", 180, "False after the restart", mark)
    relaunched = apiserver_control.relaunched_at
    print(
        f"kube-apiserver relaunched; /readyz answered after {back - relaunched:.2f}s; "
        f"the condition was corrected {corrected.at - relaunched:.2f}s after the relaunch"
    )
    assert corrected.reason == "TargetNotReady"
    live = podenv.read_condition(kube_cluster.api, gated_pod)
    assert live is not None
    assert (live.status, live.reason) == ("False", "TargetNotReady")

    # And it is fully back in business.
    mark = pod.count()
    http_target.set_mode(targets.OK)
    pod.wait_for(lambda o: o.gate == "True", 60, "True again", mark)
    assert sidecar.alive()


def test_api_server_frozen_then_resumed(
    kube_cluster: Cluster,
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
    apiserver_control: apiserver.ApiServerControl,
) -> None:
    http_target.set_mode(targets.FAIL)
    pod = watch_pod(gated_pod)
    sidecar = run_sidecar(
        gated_pod,
        *("--target", "http", "--url", http_target.url, "--period", str(PERIOD)),
        *("--failure-threshold", "1", "--backoff-cap", "5"),
    )
    pod.wait_for(lambda o: o.reason == "TargetNotReady", 60, "False")

    mark = pod.count()
    apiserver_control.freeze()
    http_target.set_mode(targets.OK)  # healthy now, while every write hangs
    keeps_probing_while_away(sidecar, http_target, gated_pod.condition)
    back = apiserver_control.thaw()

    corrected = pod.wait_for(lambda o: o.gate == "True", 180, "True after the thaw", mark)
    print(f"condition corrected {corrected.at - back:.2f}s after the API server resumed")
    assert corrected.reason == "TargetReady"
    assert sidecar.alive()
