"""The quickstart as a user runs it: the Helm chart installed (CRDs, RBAC, the operator
Deployment, whose pod runs as a real process under the chart's ServiceAccount), then
`kubectl apply -f deploy/examples/quickstart.yaml`. The gateway pod becomes Ready only once its
sidecar opens the readiness gate, the three Weaviate members become ready, and the official
openai SDK, with the key the operator issued, gets answers through the gateway (chat and
streaming) while a wrong key is refused with 401. (The install itself is tests/e2e/installed.py,
shared by the tier.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest
from kubernetes import client

from devcluster import install
from devcluster.kube import eventually
from e2e.installed import Quickstart
from runestone_operator.core import operator_rbac
from runestone_operator.gateway import names

pytestmark = pytest.mark.e2e

CRDS = ("gateways.runestone.dev", "providerpools.runestone.dev", "vectorclusters.runestone.dev")


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
