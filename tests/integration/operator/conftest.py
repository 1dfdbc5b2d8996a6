"""Fixtures for the operator's integration tests: the CRDs installed, the operator running as a
process under its own ServiceAccount and ClusterRole, and its log attached to any failure."""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from harness.kube import Cluster, eventually
from integration.operator import operator_process

REPO = Path(__file__).resolve().parents[3]
RESYNC_SECONDS = 3.0
"""Short, so drift is corrected quickly; production runs with 30 s."""


def install_crd(extensions: client.ApiextensionsV1Api, document: dict[str, object]) -> str:
    """Create or replace one CRD and wait until it is established; return its name."""
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
    return name


@pytest.fixture(scope="session")
def runestone_crds(kube_cluster: Cluster) -> list[str]:
    """The generated CRDs from crds/, installed as `kubectl apply` would."""
    extensions = client.ApiextensionsV1Api(kube_cluster.api)
    return [
        install_crd(extensions, yaml.safe_load(path.read_text()))
        for path in sorted((REPO / "crds").glob("*.yaml"))
    ]


@pytest.fixture(scope="session")
def operator(
    kube_cluster: Cluster, runestone_crds: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[operator_process.OperatorProcess]:
    """`runestone operator --all-namespaces` for the whole session."""
    folder = tmp_path_factory.mktemp("operator")
    identity = operator_process.Identity(kube_cluster.api, uuid.uuid4().hex[:6])
    token = identity.create()
    kubeconfig = operator_process.token_kubeconfig(kube_cluster.api, token, folder / "kubeconfig")
    process = operator_process.OperatorProcess(kubeconfig, folder / "operator.log", RESYNC_SECONDS)
    process.start()
    try:
        yield process
    finally:
        process.stop()
        identity.delete()


@pytest.fixture(autouse=True)
def _operator_running(operator: operator_process.OperatorProcess) -> None:
    """Every test here runs with the operator up; a crashed operator fails the test."""
    assert operator.alive(), f"the operator is not running:\n{operator.log_tail(80)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    process = getattr(item, "funcargs", {}).get("operator")
    if report.failed and isinstance(process, operator_process.OperatorProcess):
        report.sections.append(("operator log (last 200 lines)", process.log_tail(200)))
    return report
