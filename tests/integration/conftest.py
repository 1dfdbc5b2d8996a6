"""Fixtures shared by the integration tiers that need Runestone's operator: the generated CRDs,
and one `runestone operator --all-namespaces` for the whole session.

One operator per cluster, as in a real installation. Two operators watching all namespaces would
both reconcile every object: for a new VectorCluster each would issue its own CA into the same
Secret, so members would serve a certificate the other operator no longer trusts and be rolled
again and again. Tests that need a different operator (other RBAC, say) stop this one first."""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from devcluster import operator_process, storage
from devcluster.kube import Cluster
from integration.operator import objects

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def runestone_crds(kube_cluster: Cluster) -> list[str]:
    """The generated CRDs from crds/, installed as `kubectl apply` would."""
    extensions = client.ApiextensionsV1Api(kube_cluster.api)
    return [
        objects.install_crd(extensions, yaml.safe_load(path.read_text()))
        for path in sorted((REPO / "crds").glob("*.yaml"))
    ]


@pytest.fixture(scope="session")
def local_storage(
    kube_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The local StorageClass with its provisioner running; yields the volumes' root folder."""
    root = tmp_path_factory.mktemp("volumes")
    with storage.provisioning(kube_cluster.api, root):
        yield root


@pytest.fixture(scope="session")
def operator(
    kube_cluster: Cluster, runestone_crds: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[operator_process.OperatorProcess]:
    """`runestone operator --all-namespaces` for the whole session, under its own ServiceAccount
    bound to the ClusterRole and leader-election Role the operator ships, leading on its Lease;
    it reaches VectorCluster members at their pod addresses, as on any cluster."""
    folder = tmp_path_factory.mktemp("operator")
    identity = operator_process.Identity(kube_cluster.api, uuid.uuid4().hex[:6])
    token = identity.create()
    kubeconfig = operator_process.token_kubeconfig(kube_cluster.api, token, folder / "kubeconfig")
    process = operator_process.OperatorProcess(
        kubeconfig,
        folder / "operator.log",
        operator_process.RESYNC_SECONDS,
        lease_namespace=identity.namespace,
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()
        identity.delete()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that ran with the session's operator carries the tail of its log."""
    report = yield
    process = getattr(item, "funcargs", {}).get("operator")
    if report.failed and isinstance(process, operator_process.OperatorProcess):
        report.sections.append(("operator log (last 200 lines)", process.log_tail(200)))
    return report
