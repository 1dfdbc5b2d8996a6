"""Pytest fixtures: an API client for the test cluster and a fresh namespace per test.

The cluster is the one `KUBECONFIG` names when it is set explicitly (kind, k3d, a cloud cluster),
otherwise the local control plane, started here if `make cluster-up` has not already started it.
A control plane this session started is stopped when the session ends; one that was already
running is left as it was.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from harness import cluster, processes

T = TypeVar("T")


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    local: bool  # the local control plane (so the harness may run pod processes itself)
    api: client.ApiClient


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[Cluster]:
    explicit = os.environ.get("KUBECONFIG")
    started_here = False
    if explicit:
        kubeconfig = Path(explicit)
    else:
        started_here = not cluster.is_up()
        kubeconfig = cluster.up()
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield Cluster(kubeconfig=kubeconfig, local=not explicit, api=api)
    finally:
        api.close()
        if started_here and not os.environ.get("RUNESTONE_KEEP_CLUSTER"):
            cluster.down()


@pytest.fixture(scope="session")
def kube_api(kube_cluster: Cluster) -> client.ApiClient:
    return kube_cluster.api


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40].strip("-")


@pytest.fixture
def namespace(kube_api: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new namespace for one test, deleted (without waiting) when the test ends."""
    core = client.CoreV1Api(kube_api)
    name = f"t-{_slug(request.node.name)}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels={"runestone.dev/test": "true"})
        )
    )
    # The ServiceAccount admission plugin refuses pods until the namespace's default account exists.
    eventually(
        lambda: core.read_namespaced_service_account("default", name), timeout=30, what="default SA"
    )
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except ApiException as error:
            if error.status != 404:
                raise


def exists(read: Callable[..., Any], *args: Any) -> bool:
    """Whether the object `read(*args)` reads is there (404: no; other errors raise)."""
    try:
        read(*args)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def eventually(
    check: Callable[[], T],
    timeout: float = 30,
    interval: float = 0.2,
    what: str = "the condition",
) -> T:
    """Call `check` until it returns a truthy value without raising; return that value."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
            last_error = None
        except (ApiException, AssertionError, LookupError, OSError) as error:
            last_error = error
        if time.monotonic() >= deadline:
            detail = f": {last_error}" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def process_kubelet(
    kube_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Run the process kubelet for the session; yields its work folder (pod logs, control files)."""
    if not kube_cluster.local:
        pytest.fail(
            "the process kubelet runs pods of the local control plane only; unset KUBECONFIG"
        )
    workdir = tmp_path_factory.mktemp("kubelet")
    log = workdir / "kubelet.log"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness.kubelet",
                "--kubeconfig",
                str(kube_cluster.kubeconfig),
                "--workdir",
                str(workdir),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        yield workdir
    finally:
        processes.stop(process)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def pod_namespace(
    kube_api: client.ApiClient,
    namespace: str,
    process_kubelet: Path,
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """A fresh namespace whose pods the process kubelet runs as real processes.

    When the test fails, the kubelet's log and every container log of the namespace are printed.
    """
    body = {"metadata": {"labels": {"harness.runestone.dev/processes": "true"}}}
    client.CoreV1Api(kube_api).patch_namespace(namespace, body)
    yield namespace
    if request.node.stash.get(_FAILED, False):
        _print_logs(process_kubelet, namespace)


def _print_logs(workdir: Path, namespace: str, lines: int = 40) -> None:
    def tail(path: Path) -> str:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    print(
        f"\n===== process kubelet log (last {lines} lines) =====\n{tail(workdir / 'kubelet.log')}"
    )
    for log in sorted((workdir / "pods" / namespace).glob("*/*.log")):
        print(f"\n===== {log.parent.name}/{log.name} (last {lines} lines) =====\n{tail(log)}")


def container_log(workdir: Path, namespace: str, pod: str, container: str) -> Path:
    """The log file of a container the process kubelet runs (the newest pod of that name)."""
    candidates = sorted(
        (workdir / "pods" / namespace).glob(f"{pod}-*/{container}.log"),
        key=lambda p: p.stat().st_mtime,
    )
    if not candidates:
        raise LookupError(f"no log yet for {namespace}/{pod}[{container}]")
    return candidates[-1]
