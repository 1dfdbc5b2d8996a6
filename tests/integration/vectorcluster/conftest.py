"""Fixtures for VectorCluster tests: claim-backed storage, namespaces whose pods really run, the
CRDs and the operator (as a process under its own ClusterRole, reaching members' loopback
addresses through RUNESTONE_POD_NETWORK_MAP)."""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from harness import kube, storage
from harness import weaviate as wv
from harness.kube import eventually
from integration.operator import operator_process
from integration.vectorcluster import vectorclusters

REPO = Path(__file__).resolve().parents[3]
RESYNC_SECONDS = 5.0


@pytest.fixture(scope="session")
def local_storage(
    kube_cluster: kube.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The harness StorageClass with its provisioner running; yields the volumes' root folder."""
    root = tmp_path_factory.mktemp("volumes")
    with storage.provisioning(kube_cluster.api, root):
        yield root


@pytest.fixture
def member_namespace(pod_namespace: str, local_storage: Path) -> str:
    """A fresh namespace whose pods run as processes and whose claims get volumes."""
    return pod_namespace


@pytest.fixture
def core(kube_api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube_api)


def _install_crd(extensions: client.ApiextensionsV1Api, document: dict[str, object]) -> None:
    name = str(document["metadata"]["name"])  # type: ignore[index]
    try:
        extensions.create_custom_resource_definition(document)
    except ApiException as error:
        if error.status != 409:
            raise
        current = extensions.read_custom_resource_definition(name)
        document["metadata"]["resourceVersion"] = current.metadata.resource_version  # type: ignore[index]
        extensions.replace_custom_resource_definition(name, document)

    def established() -> bool:
        conditions = extensions.read_custom_resource_definition(name).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    eventually(established, what=f"CRD {name} to be established")


@pytest.fixture(scope="session")
def vector_operator(
    kube_cluster: kube.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[operator_process.OperatorProcess]:
    """The generated CRDs installed, and `runestone operator --all-namespaces` running."""
    extensions = client.ApiextensionsV1Api(kube_cluster.api)
    for path in sorted((REPO / "crds").glob("*.yaml")):
        _install_crd(extensions, yaml.safe_load(path.read_text()))
    folder = tmp_path_factory.mktemp("vector-operator")
    identity = operator_process.Identity(kube_cluster.api, uuid.uuid4().hex[:6])
    token = identity.create()
    kubeconfig = operator_process.token_kubeconfig(kube_cluster.api, token, folder / "kubeconfig")
    process = operator_process.OperatorProcess(kubeconfig, folder / "operator.log", RESYNC_SECONDS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUNESTONE_POD_NETWORK_MAP", wv.POD_NETWORK_MAP)
        process.start()
    try:
        yield process
    finally:
        process.stop()
        identity.delete()


@pytest.fixture
def clusters(
    kube_api: client.ApiClient,
    member_namespace: str,
    process_kubelet: Path,
    vector_operator: operator_process.OperatorProcess,
) -> vectorclusters.Clusters:
    assert vector_operator.alive(), vector_operator.log_tail(60)
    return vectorclusters.Clusters(kube_api, member_namespace, process_kubelet)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    process = getattr(item, "funcargs", {}).get("vector_operator")
    if report.failed and isinstance(process, operator_process.OperatorProcess):
        report.sections.append(("operator log (last 150 lines)", process.log_tail(150)))
    return report
