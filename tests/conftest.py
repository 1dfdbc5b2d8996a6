"""The test session's plugins; a local cluster of its own for each test process when the suite runs
in several (pytest-xdist's `-n`, as `make test` runs it); and the order the test files start in."""

from __future__ import annotations

import os

import pytest

from devcluster import layout

pytest_plugins = ["fixtures.kube", "fixtures.redis", "fixtures.upstreams.fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    if os.environ.get("KUBECONFIG") and int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        # Each process runs an operator for all namespaces; two on one cluster would fight.
        raise pytest.UsageError(
            "KUBECONFIG names one cluster for every test process: run the tests in one (-n 0)"
        )
    try:
        os.environ.update(layout.worker_environment(int(worker.removeprefix("gw")), os.environ))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from error


FIRST = ("e2e/", "integration/vectorcluster/")
"""The e2e tier first: its quickstart installs the chart's operator, which must not reconcile
beside the operator the integration tiers start for the rest of a session (the quickstart is
removed when a process leaves the tier). Then the VectorCluster tier, whose files take minutes
each (certificate lifetimes, member restarts): with several processes (`--dist loadfile
--no-loadscope-reorder` hands files out in this order) they run beside the shorter ones instead
of after them."""


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.removeprefix("tests/")
    return next((n for n, prefix in enumerate(FIRST) if path.startswith(prefix)), len(FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: each file keeps its order, and files their relative order
