"""Fixtures for the operator's integration tests: the CRDs installed, the operator running as a
process under its own ServiceAccount and ClusterRole, and its log attached to any failure."""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from harness.kube import Cluster
from integration.operator import objects, operator_process

REPO = Path(__file__).resolve().parents[3]
RESYNC_SECONDS = 3.0
"""Short, so drift is corrected quickly; production runs with 30 s."""


@pytest.fixture(scope="session")
def runestone_crds(kube_cluster: Cluster) -> list[str]:
    """The generated CRDs from crds/, installed as `kubectl apply` would."""
    extensions = client.ApiextensionsV1Api(kube_cluster.api)
    return [
        objects.install_crd(extensions, yaml.safe_load(path.read_text()))
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
