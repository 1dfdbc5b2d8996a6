"""The quickstart as a user runs it: the Helm chart installed (CRDs, RBAC, the operator
Deployment, whose pod runs as a real process under the chart's ServiceAccount), then
`kubectl apply -f deploy/examples/quickstart.yaml`. The gateway pod becomes Ready only once its
sidecar opens the readiness gate, the three Weaviate members become ready, and the official
openai SDK, with the key the operator issued, gets answers through the gateway (chat and
streaming) while a wrong key is refused with 401."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from devcluster import gobuild, install, storage, versions
from devcluster.kube import Cluster, eventually
from runestone_operator.core import operator_rbac
from runestone_operator.gateway import names

pytestmark = pytest.mark.e2e

CRDS = ("gateways.runestone.dev", "providerpools.runestone.dev", "vectorclusters.runestone.dev")


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


@pytest.fixture(scope="module")
def quickstart(
    kube_cluster: Cluster, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Quickstart]:
    # The kubelet runs Weaviate members only with a built weaviate-server: build before it starts.
    gobuild.ensure([versions.WEAVIATE.name, versions.HELM.name])
    kubelet_dir: Path = request.getfixturevalue("process_kubelet")
    api, kubeconfig = kube_cluster.api, kube_cluster.kubeconfig
    folder = tmp_path_factory.mktemp("quickstart")
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
                endpoint=install.gateway_endpoint(api, namespace, folder),
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


def test_chart_installed_crds_rbac_and_a_running_operator(quickstart: Quickstart) -> None:
    extensions = client.ApiextensionsV1Api(quickstart.api)
    for name in CRDS:
        conditions = extensions.read_custom_resource_definition(name).status.conditions
        assert any(c.type == "Established" and c.status == "True" for c in conditions), name
    role_name = f"{quickstart.release}-runestone-operator"
    rbac = client.RbacAuthorizationV1Api(quickstart.api)
    role = rbac.read_cluster_role(role_name)
    assert quickstart.api.sanitize_for_serialization(role.rules) == operator_rbac.rules()
    # The operator is the chart's Deployment: its pod, under the chart's ServiceAccount, is a
    # real process that answers its liveness endpoint and reconciled everything above.
    pod = install.operator_pod(quickstart.api, quickstart.system_namespace)
    assert pod is not None
    assert pod.spec.service_account_name == role_name
    # Just after its CRDs are established the API server may answer the operator's first list
    # and watch requests with 429 ("storage is (re)initializing"); kopf retries them with
    # backoff while a resync pass already reconciles, so the watches can start seconds later.
    eventually(
        lambda: (
            install.operator_health(quickstart.api, quickstart.system_namespace)["activity"][
                "watchEvents"
            ]
            > 0
        ),
        timeout=120,
        what="the operator to receive watch events",
    )
    assert "gateway.runestone.dev/quickstart created" in quickstart.applied
    assert "vectorcluster.runestone.dev/docs created" in quickstart.applied


def _selected(api: client.ApiClient, namespace: str, policy_name: str) -> list[str]:
    """The pods a NetworkPolicy's podSelector (matchLabels) picks, as the API server selects."""
    policy = client.NetworkingV1Api(api).read_namespaced_network_policy(policy_name, namespace)
    labels = policy.spec.pod_selector.match_labels
    selector = ",".join(f"{key}={value}" for key, value in labels.items())
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
    return sorted(pod.metadata.name for pod in pods)


def test_network_policies_select_the_operator_and_the_gateway_pods(
    quickstart: Quickstart,
) -> None:
    """The chart's NetworkPolicy for the operator and the operator's for the Gateway select the
    pods that really run. (No network plugin enforces them here: what is checked is what a
    plugin would apply them to.)"""
    operator_pod = install.operator_pod(quickstart.api, quickstart.system_namespace)
    assert operator_pod is not None
    operator_policy = f"{quickstart.release}-runestone-operator"
    assert _selected(quickstart.api, quickstart.system_namespace, operator_policy) == [
        operator_pod.metadata.name
    ]
    (gateway_pod,) = install.gateway_pods(quickstart.api, quickstart.namespace)
    assert _selected(quickstart.api, quickstart.namespace, install.GATEWAY) == [
        gateway_pod.metadata.name
    ]


def test_gateway_pod_is_ready_only_once_its_sidecar_opens_the_gate(
    quickstart: Quickstart,
) -> None:
    gate = names.GATEWAY_READY_GATE
    assert quickstart.history.error is None, f"the watch broke: {quickstart.history.error}"
    states = list(quickstart.history.states)
    assert states, "no gateway pod states observed"
    ready = [s for s in states if s.get("Ready") == "True"]
    assert ready, states
    assert all(s.get(gate) == "True" for s in ready), states
    # Running containers alone did not make it Ready: it waited on the gate.
    assert any(s.get("ContainersReady") == "True" and s.get("Ready") != "True" for s in states)
    # The gate was opened by the sidecar itself (its pod-bound token, its field manager).
    (pod,) = install.gateway_pods(quickstart.api, quickstart.namespace)
    (condition,) = [c for c in pod.status.conditions if c.type == gate]
    assert condition.status == "True"
    assert condition.reason == "TargetReady"
    managers = {
        entry.manager
        for entry in pod.metadata.managed_fields
        if entry.subresource == "status" and gate in str(entry.fields_v1)
    }
    assert managers == {"runestone-sidecar"}


def test_vector_cluster_members_are_ready(quickstart: Quickstart) -> None:
    obj = client.CustomObjectsApi(quickstart.api).get_namespaced_custom_object(
        "runestone.dev", "v1alpha1", quickstart.namespace, "vectorclusters", install.VECTOR_CLUSTER
    )
    assert obj["status"]["readyReplicas"] == 3
    assert sorted(m["pod"] for m in obj["status"]["members"] if m["ready"]) == [
        "docs-0",
        "docs-1",
        "docs-2",
    ]


def test_openai_sdk_chat_through_the_gateway(quickstart: Quickstart) -> None:
    sdk = quickstart.endpoint.openai_client()
    reply = sdk.chat.completions.create(
        model=install.CHAT_MODEL, messages=[{"role": "user", "content": "Hello from e2e"}]
    )
    assert reply.choices[0].message.content
    assert reply.usage is not None
    assert reply.usage.total_tokens > 0


def test_openai_sdk_streams_through_the_gateway(quickstart: Quickstart) -> None:
    sdk = quickstart.endpoint.openai_client()
    chunks: list[Any] = list(
        sdk.chat.completions.create(
            model=install.CHAT_MODEL,
            messages=[{"role": "user", "content": "Stream to me"}],
            stream=True,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 1
    assert text
    assert chunks[-1].choices == [] or chunks[-1].choices[0].finish_reason is not None


def test_a_wrong_key_is_refused(quickstart: Quickstart) -> None:
    wrong = quickstart.endpoint.api_key[:-4] + "abcd"
    sdk = quickstart.endpoint.openai_client(api_key=wrong)
    with pytest.raises(openai.AuthenticationError) as refused:
        sdk.chat.completions.create(
            model=install.CHAT_MODEL, messages=[{"role": "user", "content": "Hello"}]
        )
    assert refused.value.status_code == 401


def test_the_demos_retrieval_script_searches_and_cites_the_file(
    quickstart: Quickstart, tmp_path: Path
) -> None:
    """The script `make demo` prints and runs, exactly as printed: a file uploaded into a new
    vector store in the quickstart's VectorCluster, found by search, cited by the answer."""
    script = tmp_path / "retrieval.py"
    script.write_text(quickstart.endpoint.retrieval_script())
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "ingested: completed"
    assert lines[1] == "search: runestone-notes.md"
    assert lines[2].startswith("answer: Mock answer: runestone-notes.md holds it")
    assert lines[3] == "cited: runestone-notes.md"
