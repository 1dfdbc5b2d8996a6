"""The sidecar's own health: grpc.health.v1 SERVING while its loop runs, /healthz, and
Prometheus /metrics with probe latency, probe results, patch errors and the condition state."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from devcluster.kube import eventually
from devcluster.sidecar import podenv, process, recorder, targets


def grpc_status(port: int) -> str:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        except grpc.RpcError as error:
            return str(error.code().name)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def test_grpc_health_healthz_and_metrics(
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    pod = watch_pod(gated_pod)
    sidecar = run_sidecar(
        gated_pod, "--target", "http", "--url", http_target.url, "--period", "0.5"
    )
    pod.wait_for(lambda o: o.gate == "True", 60, "True")
    # The gauge moves once the patch's answer is back, just after the watch may see the change.
    eventually(lambda: sidecar.metric("runestone_sidecar_condition_status") == 1, what="gauge at 1")
    assert grpc_status(sidecar.grpc_port) == "SERVING"
    assert sidecar.get("/healthz") == (200, "ok\n")

    status, text = sidecar.get("/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {
        "runestone_sidecar_probe_duration_seconds",
        "runestone_sidecar_probe_results",
        "runestone_sidecar_patch_errors",
        "runestone_sidecar_condition_status",
    } <= set(families)
    assert families["runestone_sidecar_probe_duration_seconds"].type == "histogram"
    results = {
        s.labels["result"]: s.value for s in families["runestone_sidecar_probe_results"].samples
    }
    assert results["success"] >= 1
    (state,) = families["runestone_sidecar_condition_status"].samples
    assert (state.labels["condition"], state.value) == (gated_pod.condition, 1.0)

    sidecar.stop()
    assert grpc_status(sidecar.grpc_port) == "UNAVAILABLE"  # gone with the process
