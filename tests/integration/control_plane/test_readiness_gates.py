"""kwok honours readiness gates as a kubelet does: Ready needs every gate condition True."""

from __future__ import annotations

import pytest
from kubernetes import client

from devcluster.kube import eventually

GATE = "runestone.dev/test-ready"

pytestmark = pytest.mark.usefixtures("kwok_nodes")


def _condition(pod: client.V1Pod, kind: str) -> str | None:
    for condition in pod.status.conditions or []:
        if condition.type == kind:
            return str(condition.status)
    return None


def _patch_gate(core: client.CoreV1Api, namespace: str, status: str) -> None:
    body = {
        "status": {
            "conditions": [{"type": GATE, "status": status, "reason": "Test", "message": status}]
        }
    }
    core.patch_namespaced_pod_status("gated", namespace, body)


def test_pod_is_ready_only_while_its_gate_is_true(
    kube_api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="gated"),
            spec=client.V1PodSpec(
                readiness_gates=[client.V1PodReadinessGate(condition_type=GATE)],
                containers=[client.V1Container(name="app", image="example.invalid/app:1")],
            ),
        ),
    )

    def read() -> client.V1Pod:
        return core.read_namespaced_pod("gated", namespace)

    pod = eventually(
        lambda: (
            (p := read()).status.phase == "Running"
            and _condition(p, "ContainersReady") == "True"
            and p
        ),
        timeout=60,
        what="the pod's containers to run",
    )
    # Containers are ready, but the gate has no condition yet: the pod must not be Ready.
    assert _condition(pod, "Ready") == "False"
    assert _condition(pod, GATE) is None

    _patch_gate(core, namespace, "True")
    eventually(
        lambda: _condition(read(), "Ready") == "True", what="Ready after the gate turned True"
    )

    _patch_gate(core, namespace, "False")
    pod = eventually(
        lambda: _condition(p := read(), "Ready") == "False" and p,
        what="not Ready after the gate turned False",
    )
    assert _condition(pod, "ContainersReady") == "True"


def test_gate_flips_take_the_pod_out_of_its_service_endpoints(
    kube_api: client.ApiClient, namespace: str
) -> None:
    core, discovery = client.CoreV1Api(kube_api), client.DiscoveryV1Api(kube_api)
    core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="gated"),
            spec=client.V1ServiceSpec(
                selector={"app": "gated"}, ports=[client.V1ServicePort(port=80)]
            ),
        ),
    )
    core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="gated", labels={"app": "gated"}),
            spec=client.V1PodSpec(
                readiness_gates=[client.V1PodReadinessGate(condition_type=GATE)],
                containers=[client.V1Container(name="app", image="example.invalid/app:1")],
            ),
        ),
    )

    def endpoint_ready() -> bool | None:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=gated"
        ).items
        endpoints = [e for s in slices for e in (s.endpoints or [])]
        return endpoints[0].conditions.ready if endpoints else None

    eventually(lambda: endpoint_ready() is False, timeout=60, what="a not-ready endpoint")
    _patch_gate(core, namespace, "True")
    eventually(lambda: endpoint_ready() is True, what="the endpoint to turn ready")
    _patch_gate(core, namespace, "False")
    eventually(lambda: endpoint_ready() is False, what="the endpoint to turn not ready")
