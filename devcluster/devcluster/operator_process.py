"""The operator as a real process (`runestone operator`), started with a ServiceAccount token
bound to exactly the ClusterRole (and leader-election Role) the operator ships, so every test
also proves that RBAC is sufficient."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from devcluster import processes
from devcluster.kube import eventually
from runestone_operator.core import operator_rbac

RUNESTONE = Path(sys.executable).with_name("runestone")
TEST_IMAGE = "registry.example/runestone:integration"
SERVICE_ACCOUNT = "runestone-operator"
RESYNC_SECONDS = 3.0
"""Short, so drift is corrected quickly; production runs with 30 s."""
START_MARK = "===== start #"


def token_kubeconfig(api: client.ApiClient, token: str, path: Path) -> Path:
    """A kubeconfig that authenticates with `token` against the cluster `api` talks to."""
    configuration = api.configuration
    cluster: dict[str, Any] = {"server": configuration.host}
    if configuration.ssl_ca_cert:
        cluster["certificate-authority"] = str(configuration.ssl_ca_cert)
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": SERVICE_ACCOUNT, "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": SERVICE_ACCOUNT}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    return path


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
"""Scraped metrics: (sample name, sorted labels) -> value."""


def summed(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(
        value
        for (sample, found), value in samples.items()
        if sample == name and wanted <= set(found)
    )


class Identity:
    """A namespace with the operator's ServiceAccount, bound to the operator's ClusterRole and,
    in that namespace, to its leader-election Role. `namespace` names it (default
    `runestone-system-<suffix>`; the local API server audits the requests of
    `cluster.AUDITED_NAMESPACE`'s ServiceAccounts)."""

    def __init__(self, api: client.ApiClient, suffix: str, namespace: str | None = None) -> None:
        self.api = api
        self.namespace = namespace or f"runestone-system-{suffix}"
        self.role_name = f"runestone-operator-{suffix}"

    def create(self) -> str:
        """Create everything; return a token for the ServiceAccount."""
        core, rbac = client.CoreV1Api(self.api), client.RbacAuthorizationV1Api(self.api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=self.namespace)))
        core.create_namespaced_service_account(
            self.namespace,
            client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=SERVICE_ACCOUNT)),
        )
        rbac.create_cluster_role(operator_rbac.cluster_role(self.role_name))
        rbac.create_cluster_role_binding(
            operator_rbac.cluster_role_binding(SERVICE_ACCOUNT, self.namespace, self.role_name)
        )
        rbac.create_namespaced_role(self.namespace, operator_rbac.election_role(self.namespace))
        rbac.create_namespaced_role_binding(
            self.namespace, operator_rbac.election_role_binding(SERVICE_ACCOUNT, self.namespace)
        )
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=6 * 3600)
        )
        token = eventually(
            lambda: (
                core.create_namespaced_service_account_token(
                    SERVICE_ACCOUNT, self.namespace, request
                ).status.token
            ),
            what="a token for the operator's ServiceAccount",
        )
        return str(token)

    def delete(self) -> None:
        rbac = client.RbacAuthorizationV1Api(self.api)
        for delete in (rbac.delete_cluster_role_binding, rbac.delete_cluster_role):
            with contextlib.suppress(client.ApiException):
                delete(self.role_name)
        with contextlib.suppress(client.ApiException):
            client.CoreV1Api(self.api).delete_namespace(self.namespace)


class OperatorProcess:
    """`runestone operator --all-namespaces`, its log in a file, its liveness and metrics on a
    free port; with `lease_namespace`, elected leader on the Lease there (several such processes
    with one Lease take turns), without one it runs with no leader election."""

    def __init__(
        self,
        kubeconfig: Path,
        log: Path,
        resync_seconds: float,
        env: dict[str, str] | None = None,
        lease_namespace: str | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.lease_namespace = lease_namespace
        self.env = dict(env or {})
        self.log = log
        self.resync_seconds = resync_seconds
        self.port = processes.free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.extra_args: list[str] = []

    @property
    def liveness_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def command(self) -> list[str]:
        election = (
            ["--leader-election-namespace", self.lease_namespace]
            if self.lease_namespace
            else ["--no-leader-election"]
        )
        return [
            str(RUNESTONE),
            "operator",
            "--all-namespaces",
            "--resync-seconds",
            str(self.resync_seconds),
            "--liveness",
            self.liveness_url,
            *election,
            *self.extra_args,
        ]

    def start(self) -> None:
        env = {
            **os.environ,
            **self.env,
            "KUBECONFIG": str(self.kubeconfig),
            "RUNESTONE_IMAGE": TEST_IMAGE,
        }
        with open(self.log, "ab") as log:
            log.write(f"\n{START_MARK}{self.starts + 1} =====\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        self.starts += 1
        eventually(lambda: self.health() is not None, timeout=90, what="the operator's liveness")

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        assert self._process is not None, "the operator is not running"
        return self._process.pid

    def stop(self) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        return processes.stop(process, grace=30)

    def kill(self) -> int | None:
        """SIGKILL: the process dies at once, releasing nothing."""
        process, self._process = self._process, None
        if process is None:
            return None
        process.kill()
        return process.wait(10)

    def metrics(self) -> Samples:
        """Every sample the running process serves at /metrics."""
        if not self.alive():
            raise AssertionError(f"the operator exited:\n{self.log_tail(60)}")
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:  # noqa: S310
            text = response.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def health(self) -> dict[str, Any] | None:
        """The liveness report of the running process, or None when it does not answer 200."""
        if not self.alive():
            raise AssertionError(f"the operator exited:\n{self.log_tail(60)}")
        try:
            with urllib.request.urlopen(self.liveness_url, timeout=5) as response:  # noqa: S310
                report: dict[str, Any] = json.loads(response.read())["activity"]
                return report
        except (urllib.error.URLError, OSError, KeyError, ValueError):
            return None

    def wait_for_resync_passes(self, passes: int, timeout: float = 120) -> dict[str, Any]:
        """Wait until this process has completed `passes` resync passes and its work queue is
        empty in the same report: everything queued by those passes has been reconciled."""

        def settled() -> dict[str, Any]:
            report = self.health()
            assert report is not None, "no liveness report"
            assert report["resyncPasses"] >= passes, f"{report['resyncPasses']} passes so far"
            assert report["pending"] == 0, f"{report['pending']} reconciles pending"
            return report

        return eventually(settled, timeout=timeout, interval=1, what=f"{passes} resync passes")

    def log_tail(self, lines: int = 200) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def last_run_log(self) -> str:
        """The log of the latest start only."""
        return self.log_text().rpartition(START_MARK)[2]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
