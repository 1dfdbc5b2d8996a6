"""The e2e tier: a user's whole path on the local control plane, with the process kubelet running
the pods. The quickstart is installed once for the tier (package scope: this folder is a package
so that the chart's operator is gone before the next tier's tests, which run operators of their
own) and shared by its modules. A failed test's report carries the tails of the kubelet's and
every container's log."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from devcluster import gobuild, install, versions
from devcluster.kube import Cluster
from e2e import installed


@pytest.fixture(scope="package")
def quickstart(
    kube_cluster: Cluster, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[installed.Quickstart]:
    """The chart and the quickstart, installed and ready (`installed.running`)."""
    # The kubelet runs Weaviate members only with a built weaviate-server: build before it starts.
    gobuild.ensure([versions.WEAVIATE.name, versions.HELM.name])
    kubelet_dir: Path = request.getfixturevalue("process_kubelet")
    with installed.running(kube_cluster, kubelet_dir, tmp_path_factory.mktemp("quickstart")) as qs:
        yield qs


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    platform = getattr(item, "funcargs", {}).get("quickstart")
    if report.failed and platform is not None:
        workdir = platform.kubelet_dir
        tails = install.log_tails(workdir / "kubelet.log", workdir / "pods", platform.namespaces)
        report.sections.append(("pod logs", tails))
    return report
