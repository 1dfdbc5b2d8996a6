"""End to end with Kubernetes readiness: once the sidecar's condition is True, the pod turns
Ready (kwok recomputes Ready from the readiness gates as a kubelet does) and joins its Service's
endpoints; when the target fails, the pod leaves them."""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client

from devcluster.kube import Cluster, eventually
from devcluster.sidecar import podenv, process, recorder, targets


def endpoint_ready(discovery: client.DiscoveryV1Api, namespace: str) -> bool | None:
    slices = discovery.list_namespaced_endpoint_slice(
        namespace, label_selector="kubernetes.io/service-name=gateway"
    ).items
    endpoints = [e for s in slices for e in (s.endpoints or [])]
    return bool(endpoints[0].conditions.ready) if endpoints else None


def test_condition_drives_pod_ready_and_service_endpoints(
    kube_cluster: Cluster,
    namespace: str,
    gated_pod: podenv.SidecarPod,
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    core, discovery = client.CoreV1Api(kube_cluster.api), client.DiscoveryV1Api(kube_cluster.api)
    core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="gateway"),
            spec=client.V1ServiceSpec(
                selector={"app": "sidecar-test"}, ports=[client.V1ServicePort(port=80)]
            ),
        ),
    )
    pod = watch_pod(gated_pod)
    first = pod.wait_for(lambda o: o.ready is not None, 60, "the pod's first status")
    assert first.ready == "False"  # containers run, but no gate condition yet
    eventually(
        lambda: endpoint_ready(discovery, namespace) is False, timeout=60, what="unready endpoint"
    )

    run_sidecar(gated_pod, "--target", "http", "--url", http_target.url, "--period", "1")
    gate = pod.wait_for(lambda o: o.gate == "True", 60, "gate True")
    ready = pod.wait_for(lambda o: o.ready == "True", 60, "pod Ready")
    print(f"gate True -> pod Ready in {ready.at - gate.at:.3f}s")
    eventually(lambda: endpoint_ready(discovery, namespace) is True, 60, what="ready endpoint")

    mark = pod.count()
    http_target.set_mode(targets.FAIL)
    gate_down = pod.wait_for(lambda o: o.gate == "False", 60, "gate False", mark)
    not_ready = pod.wait_for(lambda o: o.ready == "False", 60, "pod not Ready", mark)
    print(f"gate False -> pod not Ready in {not_ready.at - gate_down.at:.3f}s")
    eventually(lambda: endpoint_ready(discovery, namespace) is False, 60, what="endpoint not ready")
    live = core.read_namespaced_pod(gated_pod.name, namespace)
    assert podenv.status_of(live, "ContainersReady") == "True"  # only the gate keeps it out
