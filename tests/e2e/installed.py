"""The quickstart installed once for the whole e2e tier: the Helm chart (CRDs, RBAC, the operator
Deployment, whose pod runs as a real process under the chart's ServiceAccount), then
`kubectl apply -f deploy/examples/quickstart.yaml` into a namespace of its own, followed until
the gateway, the three Weaviate members and their link are ready. The tier's modules share it
(the `quickstart` fixture of tests/e2e/conftest.py): installing it takes minutes, each module's
own objects beside it take seconds."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from devcluster import install, storage
from devcluster.kube import Cluster
from runestone_operator.gateway import names


class PodHistory:
    """Every state of the gateway's pods the API server reported, from before they existed."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.states: list[dict[str, str]] = []
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._watch = watch.Watch()
        selector = ",".join(f"{k}={v}" for k, v in names.gateway_selector(install.GATEWAY).items())
        self._selector = selector
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait(30)

    def _run(self) -> None:
        try:
            listed = self.core.list_namespaced_pod(self.namespace, label_selector=self._selector)
            self._started.set()
            stream = self._watch.stream(
                self.core.list_namespaced_pod,
                self.namespace,
                label_selector=self._selector,
                resource_version=listed.metadata.resource_version,
            )
            for event in stream:
                self.states.append(install.pod_conditions(event["object"]))
        except Exception as error:  # reported by the test that reads the history
            if not self._stopping.is_set():
                self.error = error
        finally:
            self._started.set()

    def stop(self) -> None:
        self._stopping.set()
        self._watch.stop()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


@dataclass
class Quickstart:
    api: client.ApiClient
    kubeconfig: Path
    release: str
    system_namespace: str
    namespace: str
    kubelet_dir: Path
    endpoint: install.Endpoint
    history: PodHistory
    applied: str
    namespaces: list[str] = field(default_factory=list)


@contextlib.contextmanager
def running(cluster: Cluster, kubelet_dir: Path, folder: Path) -> Iterator[Quickstart]:
    """The chart and the quickstart installed into two new namespaces, once the quickstart is
    ready; both namespaces deleted and the chart uninstalled after. The process kubelet whose
    work folder is `kubelet_dir` runs the pods (and a built weaviate-server, since it runs the
    members only with one)."""
    api, kubeconfig = cluster.api, cluster.kubeconfig
    suffix = uuid.uuid4().hex[:6]
    release = f"e2e-{suffix}"
    system_namespace, namespace = f"e2e-{suffix}-system", f"e2e-{suffix}-demo"
    for name in (system_namespace, namespace):
        install.ensure_namespace(api, name)
    history = PodHistory(api, namespace)
    policies_exist = _admission_policies_exist(api)
    values: dict[str, Any] = {}
    # The sidecar admission policies are cluster-wide objects of fixed names: when another
    # release (or the sidecar tests) installed them, they are in force already.
    values["sidecarAdmissionPolicy"] = {"enabled": not policies_exist}
    with storage.provisioning(api, folder / "volumes"):
        install.set_default_storage_class(api, True)
        try:
            kubelet_log, pods_dir = kubelet_dir / "kubelet.log", kubelet_dir / "pods"
            try:
                install.install_chart(
                    kubeconfig, system_namespace, values, folder / "values.yaml", release
                )
                install.wait_for_operator(api, system_namespace, 180, kubelet_log, pods_dir)
                history.start()
                applied = install.apply_quickstart(kubeconfig, namespace)

                def progress() -> list[str]:
                    install.check_not_crashing(kubelet_log, pods_dir, [system_namespace, namespace])
                    return install.quickstart_progress(api, namespace)

                install.wait_for("the quickstart", progress, timeout=420)
                endpoint = install.gateway_endpoint(api, namespace, folder)
                install.wait_for("its vector stores", endpoint.vector_store_progress, timeout=60)
            except Exception:
                print(install.log_tails(kubelet_log, pods_dir, [system_namespace, namespace]))
                raise
            yield Quickstart(
                api=api,
                kubeconfig=kubeconfig,
                release=release,
                system_namespace=system_namespace,
                namespace=namespace,
                kubelet_dir=kubelet_dir,
                endpoint=endpoint,
                history=history,
                applied=applied,
                namespaces=[system_namespace, namespace],
            )
        finally:
            history.stop()
            install.set_default_storage_class(api, False)
            core = client.CoreV1Api(api)
            core.delete_namespace(namespace)
            install.uninstall_chart(kubeconfig, system_namespace, release)
            core.delete_namespace(system_namespace)


def _admission_policies_exist(api: client.ApiClient) -> bool:
    try:
        client.AdmissionregistrationV1Api(api).read_validating_admission_policy(
            "runestone-sidecar-own-pod-status"
        )
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True
