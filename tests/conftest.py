"""The test session's plugins, and a local cluster of its own for each test process when the suite
runs in several (pytest-xdist's `-n`, as `make test` runs it)."""

from __future__ import annotations

import os

import pytest

from devcluster import cluster

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
        os.environ.update(cluster.worker_environment(int(worker.removeprefix("gw")), os.environ))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from error
