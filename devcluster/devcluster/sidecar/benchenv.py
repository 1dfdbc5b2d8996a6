"""Set-up for the sidecar benchmarks in bench/: a cluster (KUBECONFIG, or the local control plane
started if needed), a fresh namespace, a gated pod with a pod-bound token, a target to probe.

Benchmarks print their figures and the command that produced them; they assert nothing."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from devcluster import cluster
from devcluster.kube import eventually
from devcluster.sidecar import podenv, targets


@dataclass(frozen=True)
class BenchEnv:
    api: client.ApiClient
    namespace: str
    pod: podenv.SidecarPod
    target: targets.HttpTarget
    workdir: Path


def command_line() -> str:
    return " ".join([os.path.relpath(sys.executable), *sys.argv])


@contextlib.contextmanager
def bench_env(prefix: str) -> Iterator[BenchEnv]:
    kubeconfig = os.environ.get("KUBECONFIG") or str(cluster.up())
    api = config.new_client_from_config(config_file=kubeconfig)
    core = client.CoreV1Api(api)
    namespace = f"{prefix}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    target = targets.HttpTarget()
    try:
        eventually(
            lambda: core.read_namespaced_service_account("default", namespace),
            timeout=60,
            what="the namespace's default ServiceAccount",
        )
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as workdir:
            pod = podenv.sidecar_pod(api, namespace, Path(workdir))
            yield BenchEnv(api, namespace, pod, target, Path(workdir))
    finally:
        target.close()
        with contextlib.suppress(Exception):
            core.delete_namespace(namespace)
        api.close()


def wait(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)
