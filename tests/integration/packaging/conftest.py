"""Fixtures for the packaging tests: the real API server judging rendered manifests with
server-side dry-run, and the CRDs those manifests need installed for real."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster import chart
from devcluster.kube import Cluster, eventually
from integration.operator import objects

DryRun = Callable[[str], str]


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture(scope="session")
def dry_run(kube_cluster: Cluster) -> DryRun:
    """Apply manifests with `kubectl apply --server-side --dry-run=server`: the API server runs
    schema validation (unknown fields are errors), defaulting and admission, and stores nothing.
    Returns kubectl's output; raises with the server's message when anything is refused."""

    def apply(manifests: str) -> str:
        command: list[str | Path] = [chart.kubectl_binary(), "apply", "--server-side"]
        command += ["--dry-run=server"]
        command += ["--force-conflicts", "--field-manager=runestone-packaging-test"]
        command += ["--validate=strict", "--filename", "-"]
        return chart.run(command, kubeconfig=kube_cluster.kubeconfig, input_text=manifests).stdout

    return apply


@pytest.fixture(scope="session")
def chart_crds(kube_cluster: Cluster) -> list[str]:
    """The chart's CRDs installed for real, so that custom resources can be dry-run."""
    extensions = client.ApiextensionsV1Api(kube_cluster.api)
    return [
        objects.install_crd(extensions, yaml.safe_load(path.read_text()))
        for path in sorted((chart.CHART / "crds").glob("*.yaml"))
    ]


@pytest.fixture
def installed_crd(kube_api: client.ApiClient) -> Iterator[Callable[[dict[str, Any]], str]]:
    """Install a third-party CRD for one test (deleted afterwards)."""
    installed: list[str] = []

    def install(document: dict[str, Any]) -> str:
        installed.append(objects.install_crd(client.ApiextensionsV1Api(kube_api), document))
        return installed[-1]

    yield install
    for name in installed:
        try:
            client.ApiextensionsV1Api(kube_api).delete_custom_resource_definition(name)
        except ApiException as error:
            if error.status != 404:
                raise


@pytest.fixture(scope="session")
def existing_namespace(kube_api: client.ApiClient) -> Iterator[Callable[[str], None]]:
    """Make sure a namespace with a fixed name exists (manifests name their own). Those this
    session created are deleted when it ends; ones that already existed are left alone."""
    core = client.CoreV1Api(kube_api)
    created: list[str] = []

    def active(name: str) -> bool:
        try:
            return bool(core.read_namespace(name).status.phase == "Active")
        except ApiException as error:
            if error.status != 404:
                raise
        try:
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        except ApiException as error:
            if error.status != 409:  # still terminating from an earlier run
                raise
            return False
        created.append(name)
        return True

    def ensure(name: str) -> None:
        eventually(lambda: active(name), timeout=120, what=f"namespace {name} to be active")

    yield ensure
    for name in created:
        try:
            core.delete_namespace(name)
        except ApiException as error:
            if error.status != 404:
                raise
