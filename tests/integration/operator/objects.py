"""Creating, reading and waiting for Runestone objects and their children in tests."""

from __future__ import annotations

import base64
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from harness.kube import eventually
from harness.kube import exists as exists  # re-exported: the operator tests call objects.exists
from runestone_operator.core import names
from runestone_operator.gateway import names as gateway_names

GROUP, VERSION = "runestone.dev", "v1alpha1"
GATE = gateway_names.GATEWAY_READY_GATE

MOCK_MODELS = [
    {"name": "mock-chat", "kinds": ["chat", "completion"]},
    {"name": "mock-embedding", "kinds": ["embedding"]},
]


def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def mock_pool(name: str, models: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ProviderPool",
        "metadata": {"name": name},
        "spec": {"providers": [{"name": "mock", "type": "mock", "models": models or MOCK_MODELS}]},
    }


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


def gateway(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"providerPools": [{"name": "mock"}], "replicas": 1}
    body.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gateway",
        "metadata": {"name": name},
        "spec": body,
    }


def create(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    plural = {
        "Gateway": "gateways",
        "ProviderPool": "providerpools",
        "VectorCluster": "vectorclusters",
    }[body["kind"]]
    created: dict[str, Any] = custom(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, body
    )
    return created


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
        assert found["reason"] == reason, f"{kind} reason is {found['reason']}"
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


def install_crd(extensions: client.ApiextensionsV1Api, document: dict[str, Any]) -> str:
    """Create or replace one CRD and wait until it is established; return its name."""
    name = str(document["metadata"]["name"])
    try:
        extensions.create_custom_resource_definition(document)
    except ApiException as error:
        if error.status != 409:
            raise
        current = extensions.read_custom_resource_definition(name)
        document["metadata"]["resourceVersion"] = current.metadata.resource_version
        extensions.replace_custom_resource_definition(name, document)

    def established() -> bool:
        conditions = extensions.read_custom_resource_definition(name).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    eventually(established, what=f"CRD {name} to be established")
    return name
