"""Fixtures for the sidecar's integration tests: a gated pod with a pod-bound token, targets to
probe, the sidecar as a process, a watch on the pod, the admission policy, and control over the
local kube-apiserver."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster.kube import Cluster
from devcluster.sidecar import podenv, process, recorder, targets
from integration.sidecar import apiserver

REPO = Path(__file__).resolve().parents[3]
POLICY = REPO / "helm" / "runestone" / "templates" / "sidecar-admission-policy.yaml"


@pytest.fixture(scope="session")
def admission_policy(kube_cluster: Cluster) -> list[dict[str, Any]]:
    """The chart's admission policies, applied (create or replace) as the chart would."""
    documents = [d for d in yaml.safe_load_all(POLICY.read_text()) if d]
    admission = client.AdmissionregistrationV1Api(kube_cluster.api)
    for document in documents:
        name = document["metadata"]["name"]
        if document["kind"] == "ValidatingAdmissionPolicy":
            create, read, replace = (
                admission.create_validating_admission_policy,
                admission.read_validating_admission_policy,
                admission.replace_validating_admission_policy,
            )
        else:
            create, read, replace = (
                admission.create_validating_admission_policy_binding,
                admission.read_validating_admission_policy_binding,
                admission.replace_validating_admission_policy_binding,
            )
        try:
            create(document)
        except ApiException as error:
            if error.status != 409:
                raise
            current = read(name)
            document["metadata"]["resourceVersion"] = current.metadata.resource_version
            replace(name, document)
    return documents


@pytest.fixture
def make_pod(
    kwok_nodes: None,
    kube_cluster: Cluster,
    namespace: str,
    tmp_path: Path,
    admission_policy: list[dict[str, Any]],
) -> Callable[..., podenv.SidecarPod]:
    def make(**kwargs: Any) -> podenv.SidecarPod:
        return podenv.sidecar_pod(kube_cluster.api, namespace, tmp_path, **kwargs)

    return make


@pytest.fixture
def gated_pod(make_pod: Callable[..., podenv.SidecarPod]) -> podenv.SidecarPod:
    return make_pod()


@pytest.fixture
def http_target() -> Iterator[targets.HttpTarget]:
    target = targets.HttpTarget()
    yield target
    target.close()


@pytest.fixture
def grpc_target() -> Iterator[targets.GrpcTarget]:
    target = targets.GrpcTarget(service="runestone.test")
    yield target
    target.close()


@pytest.fixture
def run_sidecar(tmp_path: Path) -> Iterator[Callable[..., process.SidecarProcess]]:
    """Start sidecars; whatever still runs at the end is stopped, and its log printed."""
    started: list[process.SidecarProcess] = []

    def run(pod: podenv.SidecarPod, *args: str, **kwargs: Any) -> process.SidecarProcess:
        sidecar = process.start_sidecar(pod, tmp_path, *args, **kwargs)
        started.append(sidecar)
        return sidecar

    yield run
    for sidecar in started:
        sidecar.stop(signal.SIGTERM, 30)
        print(f"--- sidecar log ({' '.join(sidecar.command)}):\n{sidecar.log()}")


@pytest.fixture
def watch_pod(
    kube_cluster: Cluster,
) -> Iterator[Callable[[podenv.SidecarPod], recorder.PodRecorder]]:
    recorders: list[recorder.PodRecorder] = []

    def watch(pod: podenv.SidecarPod) -> recorder.PodRecorder:
        recording = recorder.PodRecorder(kube_cluster.api, pod)
        recorders.append(recording)
        return recording

    yield watch
    for recording in recorders:
        recording.close()


@pytest.fixture
def apiserver_control(kube_cluster: Cluster) -> Iterator[apiserver.ApiServerControl]:
    """Stop/start for the local kube-apiserver; it is running again when the test ends, pass or
    fail."""
    if not kube_cluster.local:
        pytest.fail(
            "stopping the API server needs the local control plane; this run uses "
            f"KUBECONFIG={kube_cluster.kubeconfig}"
        )
    control = apiserver.ApiServerControl(kube_cluster.api)
    try:
        yield control
    finally:
        control.restore()
        control.settle()
