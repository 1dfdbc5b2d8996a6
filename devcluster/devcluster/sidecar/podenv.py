"""A pod for the sidecar to report into, as the operator would set it up: a `runestone-*`
ServiceAccount with get/patch on pods/status, a pod carrying the readiness gate, and a
kubeconfig holding a service-account token bound to that pod (what a projected token gives a
real sidecar)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster.kube import eventually

GATE = "runestone.dev/gateway-ready"
MEMBER_GATE = "runestone.dev/member-ready"
SERVICE_ACCOUNT = "runestone-gateway-test"
ROLE = "runestone-sidecar"


@dataclass(frozen=True)
class SidecarPod:
    namespace: str
    name: str
    uid: str
    service_account: str
    condition: str
    kubeconfig: Path  # a token bound to this pod, for the sidecar


def grant_sidecar_rbac(api: client.ApiClient, namespace: str, service_account: str) -> None:
    """The sidecar's least privilege: get and patch on pods/status, in its namespace only."""
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    with contextlib.suppress(ApiException):
        core.create_namespaced_service_account(
            namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=service_account))
        )
    with contextlib.suppress(ApiException):
        rbac.create_namespaced_role(
            namespace,
            client.V1Role(
                metadata=client.V1ObjectMeta(name=ROLE),
                rules=[
                    client.V1PolicyRule(
                        api_groups=[""], resources=["pods/status"], verbs=["get", "patch"]
                    )
                ],
            ),
        )
    with contextlib.suppress(ApiException):
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name=f"{ROLE}-{service_account}"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name=ROLE
                ),
                subjects=[
                    client.RbacV1Subject(
                        kind="ServiceAccount", name=service_account, namespace=namespace
                    )
                ],
            ),
        )


def create_gated_pod(
    api: client.ApiClient, namespace: str, name: str, service_account: str, condition: str
) -> client.V1Pod:
    """A pod with the readiness gate, scheduled and started by kwok (containers ready)."""
    core = client.CoreV1Api(api)
    eventually(
        lambda: core.read_namespaced_service_account(service_account, namespace),
        what=f"ServiceAccount {service_account}",
    )
    core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": "sidecar-test"}),
            spec=client.V1PodSpec(
                service_account_name=service_account,
                readiness_gates=[client.V1PodReadinessGate(condition_type=condition)],
                containers=[client.V1Container(name="app", image="example.invalid/app:1")],
            ),
        ),
    )
    return eventually(
        lambda: (
            (p := core.read_namespaced_pod(name, namespace)).status.phase == "Running"
            and status_of(p, "ContainersReady") == "True"
            and p
        ),
        timeout=90,
        what=f"pod {name} to run",
    )


def bound_token(
    api: client.ApiClient, namespace: str, service_account: str, pod: client.V1Pod
) -> str:
    """A TokenRequest bound to the pod, as the kubelet requests for a projected token."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(
            audiences=[],
            expiration_seconds=3600,
            bound_object_ref=client.V1BoundObjectReference(
                kind="Pod", api_version="v1", name=pod.metadata.name, uid=pod.metadata.uid
            ),
        )
    )
    response = client.CoreV1Api(api).create_namespaced_service_account_token(
        service_account, namespace, request
    )
    return str(response.status.token)


def write_kubeconfig(
    path: Path, api: client.ApiClient, token: str, server: str | None = None
) -> Path:
    """A kubeconfig that authenticates with `token` against the cluster `api` talks to."""
    admin = api.configuration
    cluster: dict[str, Any] = {"server": server or admin.host}
    if admin.ssl_ca_cert:
        cluster["certificate-authority"] = str(admin.ssl_ca_cert)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster}],
        "users": [{"name": "sidecar", "user": {"token": token}}],
        "contexts": [{"name": "sidecar", "context": {"cluster": "cluster", "user": "sidecar"}}],
        "current-context": "sidecar",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def sidecar_pod(
    api: client.ApiClient,
    namespace: str,
    workdir: Path,
    name: str = "gw-0",
    service_account: str = SERVICE_ACCOUNT,
    condition: str = GATE,
) -> SidecarPod:
    grant_sidecar_rbac(api, namespace, service_account)
    pod = create_gated_pod(api, namespace, name, service_account, condition)
    token = bound_token(api, namespace, service_account, pod)
    kubeconfig = write_kubeconfig(workdir / f"{name}.kubeconfig", api, token)
    return SidecarPod(namespace, name, pod.metadata.uid, service_account, condition, kubeconfig)


def status_of(pod: client.V1Pod, condition_type: str) -> str | None:
    found = condition_of(pod, condition_type)
    return None if found is None else str(found.status)


def condition_of(pod: client.V1Pod, condition_type: str) -> client.V1PodCondition | None:
    for condition in pod.status.conditions or []:
        if condition.type == condition_type:
            return condition
    return None


def read_condition(api: client.ApiClient, pod: SidecarPod) -> client.V1PodCondition | None:
    return condition_of(
        client.CoreV1Api(api).read_namespaced_pod(pod.name, pod.namespace), pod.condition
    )
