"""Stopping the operator is clean, and restarting it changes nothing: no key is regenerated and
no child is rewritten (every resourceVersion stays the same). Repeated resync passes are no-ops
as well."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client

from devcluster import operator_process
from integration.operator import objects


def _snapshot(api: client.ApiClient, namespace: str) -> dict[str, str]:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    rbac, policy = client.RbacAuthorizationV1Api(api), client.PolicyV1Api(api)
    reads: dict[str, Callable[[], Any]] = {
        "deployment": lambda: apps.read_namespaced_deployment("steady", namespace),
        "service": lambda: core.read_namespaced_service("steady", namespace),
        "metrics-service": lambda: core.read_namespaced_service("steady-metrics", namespace),
        "networkpolicy": lambda: client.NetworkingV1Api(api).read_namespaced_network_policy(
            "steady", namespace
        ),
        "configmap": lambda: core.read_namespaced_config_map("steady-config", namespace),
        "keytable": lambda: core.read_namespaced_secret("steady-keytable", namespace),
        "key-one": lambda: core.read_namespaced_secret("steady-key-one", namespace),
        "key-two": lambda: core.read_namespaced_secret("steady-key-two", namespace),
        "tls": lambda: core.read_namespaced_secret("steady-tls", namespace),
        "ca": lambda: core.read_namespaced_secret("steady-ca", namespace),
        "ca-key": lambda: core.read_namespaced_secret("steady-ca-key", namespace),
        "serviceaccount": lambda: core.read_namespaced_service_account(
            "runestone-gateway-steady", namespace
        ),
        "role": lambda: rbac.read_namespaced_role("runestone-gateway-steady", namespace),
        "rolebinding": lambda: rbac.read_namespaced_role_binding(
            "runestone-gateway-steady", namespace
        ),
        "pdb": lambda: policy.read_namespaced_pod_disruption_budget("steady", namespace),
    }
    snapshot = {name: read().metadata.resource_version for name, read in reads.items()}
    for plural, name in (("gateways", "steady"), ("providerpools", "mock")):
        snapshot[plural] = objects.read(api, namespace, plural, name)["metadata"]["resourceVersion"]
    for key in ("one", "two"):
        snapshot[f"plaintext-{key}"] = objects.secret_text(
            api, namespace, f"steady-key-{key}", "api-key"
        )
    return snapshot


def test_restart_regenerates_nothing_and_rewrites_nothing(
    kube_api: client.ApiClient, namespace: str, operator: operator_process.OperatorProcess
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(
        kube_api,
        namespace,
        objects.gateway("steady", replicas=2, apiKeys=[{"name": "one"}, {"name": "two"}]),
    )
    objects.wait_ready(kube_api, namespace, "steady", replicas=2)
    report = operator.health()
    assert report is not None
    operator.wait_for_resync_passes(report["resyncPasses"] + 2)
    before = _snapshot(kube_api, namespace)

    # Level-based reconciles of an unchanged world write nothing.
    report = operator.health()
    assert report is not None
    operator.wait_for_resync_passes(report["resyncPasses"] + 2)
    assert _snapshot(kube_api, namespace) == before

    # SIGTERM is a clean stop: the operator stops its workers, then its watches, and exits 0.
    starts = operator.starts
    assert operator.stop() == 0
    last_run = operator.last_run_log()
    assert "SIGTERM received: stopping" in last_run
    assert "Traceback" not in last_run, last_run
    operator.start()
    assert operator.starts == starts + 1
    # The new process has listed everything, queued it twice and drained its queue.
    operator.wait_for_resync_passes(2)
    assert _snapshot(kube_api, namespace) == before
    assert objects.condition_is(kube_api, namespace, "gateways", "steady", "Ready", "True")
