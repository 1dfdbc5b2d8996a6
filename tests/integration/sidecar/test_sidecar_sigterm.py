"""On SIGTERM the sidecar sets the condition False first (reason Terminating), then exits, so the
pod leaves its Services before the main container stops."""

from __future__ import annotations

import signal
from collections.abc import Callable

from kubernetes import client

from devcluster import processes
from devcluster.kube import Cluster
from devcluster.sidecar import podenv, process, recorder, targets


def test_sigterm_sets_the_condition_false_before_exit(
    kube_cluster: Cluster,
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    pod = watch_pod(gated_pod)
    sidecar = run_sidecar(gated_pod, "--target", "http", "--url", http_target.url, "--period", "1")
    ready = pod.wait_for(lambda o: o.gate == "True" and o.ready == "True", 60, "Ready")

    mark = pod.count()
    code = sidecar.stop(signal.SIGTERM)
    assert code == 0, sidecar.log()
    # Read after the process is gone: the False it wrote is already stored.
    condition = podenv.read_condition(kube_cluster.api, gated_pod)
    assert condition is not None
    assert (condition.status, condition.reason) == ("False", "Terminating")
    # The watch saw the True it had, then the Terminating False, and the pod left Ready.
    terminating = pod.wait_for(lambda o: o.reason == "Terminating", 60, "Terminating", mark)
    assert terminating.gate == "False"
    assert ready.gate == "True"
    pod.wait_for(lambda o: o.ready == "False", 60, "the pod to leave Ready", mark)
    log = sidecar.log()
    assert "is now False (Terminating)" in log
    assert "Traceback" not in log


def test_sigterm_with_the_api_server_unreachable_still_exits(
    kube_cluster: Cluster,
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    tmp_path: object,
) -> None:
    # A kubeconfig pointing at a port where nothing listens: the final write cannot succeed,
    # and the sidecar gives up after --termination-timeout instead of hanging the pod's exit.
    dead = podenv.write_kubeconfig(
        gated_pod.kubeconfig.with_name("dead.kubeconfig"),
        kube_cluster.api,
        "unused-token",
        server=f"https://127.0.0.1:{processes.free_port()}",
    )
    sidecar = run_sidecar(
        gated_pod,
        *("--target", "http", "--url", http_target.url, "--period", "1"),
        *("--termination-timeout", "3"),
        kubeconfig=dead,
    )
    code = sidecar.stop(signal.SIGTERM, timeout=60)
    assert code == 1
    assert "could not report" in sidecar.log()
    assert "unused-token" not in sidecar.log()
    assert client.CoreV1Api(kube_cluster.api).read_namespaced_pod(
        gated_pod.name, gated_pod.namespace
    )
