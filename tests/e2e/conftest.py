"""The e2e tier: a user's whole path on the local control plane, with the process kubelet running
the pods. A failed test's report carries the tails of the kubelet's and every container's log."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest


def log_tails(workdir: Path, namespaces: list[str], lines: int = 30) -> str:
    logs = [workdir / "kubelet.log"]
    for namespace in namespaces:
        logs += sorted((workdir / "pods" / namespace).glob("*/*.log"))
    parts = []
    for log in logs:
        if log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            parts.append(f"===== {log.parent.name}/{log.name}\n{tail}")
    return "\n".join(parts)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    platform = getattr(item, "funcargs", {}).get("quickstart")
    if report.failed and platform is not None:
        report.sections.append(("pod logs", log_tails(platform.kubelet_dir, platform.namespaces)))
    return report
