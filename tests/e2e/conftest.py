"""The e2e tier: a user's whole path on the local control plane, with the process kubelet running
the pods. A failed test's report carries the tails of the kubelet's and every container's log."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from devcluster import install


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
