"""A real gRPC health server (grpcio's health servicer) as the target: SERVING is ready,
NOT_SERVING and an absent server are not, each with its own reason."""

from __future__ import annotations

from collections.abc import Callable

from devcluster.sidecar import podenv, process, recorder, targets


def test_grpc_health_target(
    gated_pod: podenv.SidecarPod,
    grpc_target: targets.GrpcTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    pod = watch_pod(gated_pod)
    run_sidecar(
        gated_pod,
        *("--target", "grpc", "--url", f"grpc://{grpc_target.target}"),
        *("--grpc-service", grpc_target.service, "--period", "0.5"),
        *("--success-threshold", "1", "--failure-threshold", "2"),
    )
    ready = pod.wait_for(lambda o: o.gate == "True", 60, "True")
    assert ready.message == (
        f"grpc.health.v1 Check runestone.test at {grpc_target.target} answered SERVING"
    )

    mark = pod.count()
    changed = grpc_target.set_serving(False)
    down = pod.wait_for(lambda o: o.gate == "False", 60, "False on NOT_SERVING", mark)
    print(f"NOT_SERVING -> False in {down.at - changed:.2f}s")
    assert down.reason == "NotServing"
    assert str(down.message).endswith("answered NOT_SERVING")

    mark = pod.count()
    grpc_target.set_serving(True)
    pod.wait_for(lambda o: o.gate == "True", 60, "True again", mark)

    mark = pod.count()
    grpc_target.close()
    gone = pod.wait_for(lambda o: o.gate == "False", 60, "False once the server is gone", mark)
    assert gone.reason == "TargetUnreachable"
    assert "UNAVAILABLE" in str(gone.message)
