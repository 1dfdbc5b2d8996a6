"""Fixtures for VectorCluster tests: claim-backed storage, namespaces whose pods really run, the
session's operator (tests/integration/conftest.py), which reaches members at their pod
addresses, and an S3 store for backups."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from devcluster import operator_process, s3
from integration.vectorcluster import vectorclusters


@pytest.fixture
def member_namespace(pod_namespace: str, local_storage: Path) -> str:
    """A fresh namespace whose pods run as processes and whose claims get volumes."""
    return pod_namespace


@pytest.fixture
def core(kube_api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube_api)


@pytest.fixture
def clusters(
    kube_api: client.ApiClient,
    member_namespace: str,
    process_kubelet: Path,
    operator: operator_process.OperatorProcess,
) -> vectorclusters.Clusters:
    assert operator.alive(), operator.log_tail(60)
    return vectorclusters.Clusters(kube_api, member_namespace, process_kubelet)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[s3.S3Server]:
    """Versity's S3 gateway on loopback with the bucket `backups`, for the test module."""
    server = s3.S3Server(tmp_path_factory.mktemp("s3"), buckets=("backups",))
    server.start()
    try:
        yield server
    finally:
        server.stop()
