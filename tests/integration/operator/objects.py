"""Creating, reading and waiting for Runestone objects and their children in tests."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config

from devcluster import kube
from devcluster.kube import eventually
from devcluster.kube import exists as exists  # re-exported: the operator tests call objects.exists
from devcluster.resources import GROUP as GROUP  # re-exported with the other object helpers
from devcluster.resources import MOCK_MODELS as MOCK_MODELS
from devcluster.resources import VERSION as VERSION
from devcluster.resources import create as create
from devcluster.resources import custom as custom
from devcluster.resources import gateway as gateway
from devcluster.resources import install_crd as install_crd
from devcluster.resources import mock_pool as mock_pool
from runestone_operator.core import kube as operator_kube
from runestone_operator.core import names
from runestone_operator.gateway import names as gateway_names

GATE = gateway_names.GATEWAY_READY_GATE


@contextlib.asynccontextmanager
async def operator_client(
    kubeconfig: Path, observe: operator_kube.Observer | None = None
) -> AsyncIterator[operator_kube.Kube]:
    """The operator's own API client (`runestone_operator.core.kube.Kube`) on `kubeconfig`."""
    configuration = k8s.Configuration()
    await k8s_config.load_kube_config(
        config_file=str(kubeconfig), client_configuration=configuration
    )
    connection = operator_kube.Kube(
        k8s.ApiClient(configuration=configuration), names.FIELD_MANAGER, observe
    )
    try:
        yield connection
    finally:
        await connection.close()


def openai_pool(name: str, secret: str) -> dict[str, Any]:
    """A pool of one OpenAI-compatible provider whose key is in Secret `secret`, key `api-key`."""
    provider = {
        "name": "openai",
        "type": "openai",
        "baseURL": "http://upstream.example:8000/v1",
        "apiKeySecretRef": {"name": secret, "key": "api-key"},
        "models": [{"name": "gpt-4o-mini"}],
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ProviderPool",
        "metadata": {"name": name},
        "spec": {"providers": [provider]},
    }


def credential_secret(name: str, value: str, *, labelled: bool = True) -> client.V1Secret:
    """A provider's API key in Secret `name`, key `api-key`, marked by its owner as a provider
    credential (unless `labelled` is False), as a ProviderPool needs it."""
    labels = {names.LABEL_PROVIDER_CREDENTIAL: "true"} if labelled else None
    return client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, labels=labels), string_data={"api-key": value}
    )


def read(api: client.ApiClient, namespace: str, plural: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = custom(api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, name
    )
    return found


def patch(
    api: client.ApiClient, namespace: str, plural: str, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    patched: dict[str, Any] = custom(api).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, name, body
    )
    return patched


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item["type"] == kind:
            return dict(item)
    return None


def condition_is(
    api: client.ApiClient,
    namespace: str,
    plural: str,
    name: str,
    kind: str,
    status: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """The object once its condition `kind` has `status` (and `reason`) for its current
    generation; AssertionError (which `eventually` retries) until then."""
    obj = read(api, namespace, plural, name)
    found = condition(obj, kind)
    assert found is not None, f"no {kind} condition yet"
    assert found["status"] == status, f"{kind} is {found['status']}: {found['message']}"
    if reason is not None:
        assert found["reason"] == reason, f"{kind} reason is {found['reason']}: {found['message']}"
    observed = (obj.get("status") or {}).get("observedGeneration")
    assert observed == obj["metadata"]["generation"], "status is for an older generation"
    return obj


def wait_condition(
    api: client.ApiClient,
    namespace: str,
    plural: str,
    name: str,
    kind: str,
    status: str,
    reason: str | None = None,
    *,
    timeout: float,
    what: str,
) -> dict[str, Any]:
    """The object once its condition `kind` is `status` (and `reason`) for its generation."""
    return eventually(
        lambda: condition_is(api, namespace, plural, name, kind, status, reason),
        timeout=timeout,
        what=what,
    )


def warnings(api: client.ApiClient, namespace: str, reason: str) -> list[str]:
    """The messages of the Warning Events with `reason`; AssertionError while there is none."""
    events = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"reason={reason},type=Warning"
    )
    messages = [event.message for event in events.items]
    assert messages, f"no Warning event {reason}"
    return messages


def must(obj: dict[str, Any] | None) -> dict[str, Any]:
    assert obj is not None
    return obj


def secret_text(api: client.ApiClient, namespace: str, name: str, key: str) -> str:
    secret = client.CoreV1Api(api).read_namespaced_secret(name, namespace)
    return base64.b64decode(secret.data[key]).decode()


def gateway_pods(api: client.ApiClient, namespace: str, gateway_name: str) -> list[client.V1Pod]:
    selector = f"{names.LABEL_INSTANCE}={gateway_name},{names.LABEL_NAME}={gateway_names.APP}"
    pods: list[client.V1Pod] = (
        client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
    )
    return pods


def pod_condition(pod: client.V1Pod, kind: str) -> str | None:
    for item in pod.status.conditions or []:
        if item.type == kind:
            return str(item.status)
    return None


def open_gates(api: client.ApiClient, namespace: str, gateway_name: str, replicas: int) -> None:
    """Play the sidecar: once `replicas` pods run with ready containers, set their gate True."""
    core = client.CoreV1Api(api)

    def running() -> list[client.V1Pod]:
        _fail_without_image(gateway_pods(api, namespace, gateway_name))
        pods = [
            pod
            for pod in gateway_pods(api, namespace, gateway_name)
            if pod.metadata.deletion_timestamp is None
            and pod_condition(pod, "ContainersReady") == "True"
        ]
        assert len(pods) == replicas, f"{len(pods)} of {replicas} pods running"
        return pods

    for pod in eventually(running, timeout=120, what="gateway pods to run"):
        if pod_condition(pod, GATE) != "True":
            body = {
                "status": {
                    "conditions": [
                        {
                            "type": GATE,
                            "status": "True",
                            "reason": "Test",
                            "message": "opened by the test",
                        }
                    ]
                }
            }
            core.patch_namespaced_pod_status(pod.metadata.name, namespace, body)


def _fail_without_image(pods: list[client.V1Pod]) -> None:
    """Stop at once, saying what to do, when the cluster's nodes cannot pull the image: the
    local control plane needs none (kwok runs the pods), another cluster needs it loaded."""
    for pod in pods:
        failure = kube.image_pull_failure(pod)
        if failure is not None:
            image, reason = failure
            pytest.fail(
                f"pod {pod.metadata.name} cannot start: {reason} for {image}. The operator the "
                f"tests run gives gateway pods the image {image}; on a cluster with real nodes, "
                f"build it and load it first: `docker build -t {image} .` then "
                f"`kind load docker-image {image}` (kind), or push it where the nodes pull from"
            )


def wait_ready(
    api: client.ApiClient, namespace: str, gateway_name: str, replicas: int = 1
) -> dict[str, Any]:
    """Open the gates of the gateway's pods and wait for its Ready condition."""
    open_gates(api, namespace, gateway_name, replicas)
    return eventually(
        lambda: condition_is(api, namespace, "gateways", gateway_name, "Ready", "True"),
        timeout=120,
        what=f"Gateway {gateway_name} to be Ready",
    )
