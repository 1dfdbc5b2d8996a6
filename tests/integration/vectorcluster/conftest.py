"""Fixtures for VectorCluster tests: claim-backed storage, namespaces whose pods really run, and
the session's operator (tests/integration/conftest.py), which reaches members at their pod
addresses."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from devcluster import operator_process
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
