"""An API call the operator's RBAC does not allow makes the object Degraded (ApiForbidden) with a
message naming the refused verb, resource and namespace, and a Warning Event; the operator keeps
running and retries, and recovers by itself once the permission is granted. Shown for each kind:
a Gateway (HPA writes refused; its Deployment unreadable for the status), a ProviderPool (its
credential Secret unreadable) and a VectorCluster (NetworkPolicy writes refused).

The session's operator is stopped for these tests: an operator whose ClusterRole the test
narrows runs in its place, under its own ServiceAccount."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devcluster import operator_process
from devcluster.kube import Cluster, eventually
from integration.operator import objects
from integration.vectorcluster import vectorclusters
from runestone_operator.core import operator_rbac

REFUSED = {"create", "update", "patch"}
GRANTED_TIMEOUT = 120  # from the permission granted back to the object reconciled


def _without(resource: str, refused: set[str]) -> list[dict[str, Any]]:
    """The operator's own rules, less the verbs `refused` on `resource`."""
    rules: list[dict[str, Any]] = []
    for rule in copy.deepcopy(operator_rbac.rules()):
        if resource not in rule["resources"]:
            rules.append(rule)
            continue
        others = [name for name in rule["resources"] if name != resource]
        if others:
            rules.append({**rule, "resources": others})
        verbs = [verb for verb in rule["verbs"] if verb not in refused]
        rules.append({**rule, "resources": [resource], "verbs": verbs})
    return rules


def _forbidden(
    api: client.ApiClient, namespace: str, plural: str, name: str
) -> tuple[dict[str, Any], str]:
    """The object once it is Degraded with ApiForbidden, and that condition's message."""
    degraded = objects.wait_condition(
        api,
        namespace,
        plural,
        name,
        "Degraded",
        "True",
        "ApiForbidden",
        timeout=90,
        what=f"{plural}/{name} Degraded with ApiForbidden",
    )
    message = objects.must(objects.condition(degraded, "Degraded"))["message"]
    assert "HTTP 403" in message
    return degraded, message


class LimitedOperator:
    """`runestone operator` under its own ServiceAccount, whose ClusterRole the test changes."""

    def __init__(self, api: client.ApiClient, folder: Path) -> None:
        self.rbac = client.RbacAuthorizationV1Api(api)
        self.identity = operator_process.Identity(api, uuid.uuid4().hex[:6])
        kubeconfig = operator_process.token_kubeconfig(
            api, self.identity.create(), folder / "kubeconfig"
        )
        self.set_rules(_without("horizontalpodautoscalers", REFUSED))
        self.process = operator_process.OperatorProcess(
            kubeconfig, folder / "limited-operator.log", operator_process.RESYNC_SECONDS
        )

    def set_rules(self, rules: list[dict[str, Any]]) -> None:
        self.rbac.patch_cluster_role(self.identity.role_name, {"rules": rules})

    def grant_all(self) -> None:
        """Give the operator back every rule the chart grants it."""
        self.set_rules(operator_rbac.rules())

    def close(self) -> None:
        self.process.stop()
        self.identity.delete()


@pytest.fixture
def limited_operator(
    kube_cluster: Cluster, operator: operator_process.OperatorProcess, tmp_path: Path
) -> Iterator[LimitedOperator]:
    operator.stop()
    limited: LimitedOperator | None = None
    try:
        limited = LimitedOperator(kube_cluster.api, tmp_path)
        limited.process.start()
        yield limited
    finally:
        if limited is not None:
            limited.close()
        operator.start()


def test_missing_permission_degrades_then_recovers_when_granted(
    kube_api: client.ApiClient, namespace: str, limited_operator: LimitedOperator
) -> None:
    autoscaling = client.AutoscalingV2Api(kube_api)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(
        kube_api,
        namespace,
        objects.gateway(
            "denied",
            autoscaling={"minReplicas": 1, "maxReplicas": 2},
            tls={"mode": "none"},
        ),
    )
    _, message = _forbidden(kube_api, namespace, "gateways", "denied")
    assert f"patch horizontalpodautoscalers.autoscaling 'denied' in namespace {namespace!r}" in (
        message
    )
    assert "HTTP 403" in message
    warnings = eventually(
        lambda: objects.warnings(kube_api, namespace, "ApiForbidden"), what="a Warning event"
    )
    assert warnings == [message]  # one Event, not one per retry
    # The steps before the refused one did their work; the operator retries rather than crashing.
    assert objects.exists(
        client.AppsV1Api(kube_api).read_namespaced_deployment, "denied", namespace
    )
    assert not objects.exists(
        autoscaling.read_namespaced_horizontal_pod_autoscaler, "denied", namespace
    )
    first_passes = limited_operator.process.wait_for_resync_passes(2)["resyncPasses"]
    limited_operator.process.wait_for_resync_passes(first_passes + 2)
    assert limited_operator.process.alive()
    assert len(objects.warnings(kube_api, namespace, "ApiForbidden")) == 1
    log = limited_operator.process.log_text()
    assert "Traceback" not in log
    assert "HTTP 403" in log

    limited_operator.grant_all()
    objects.wait_condition(
        kube_api,
        namespace,
        "gateways",
        "denied",
        "Degraded",
        "False",
        "Reconciled",
        timeout=GRANTED_TIMEOUT,
        what="Degraded=False once the permission is granted",
    )
    hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler("denied", namespace)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (1, 2)
    objects.wait_ready(kube_api, namespace, "denied", replicas=1)
    resolved = client.CoreV1Api(kube_api).list_namespaced_event(
        namespace, field_selector="reason=Reconciled,type=Normal"
    )
    assert any(event.message == "the problem is resolved" for event in resolved.items)


def test_a_provider_pool_whose_secret_cannot_be_read_is_degraded_until_granted(
    kube_api: client.ApiClient, namespace: str, limited_operator: LimitedOperator
) -> None:
    limited_operator.set_rules(_without("secrets", {"get"}))
    client.CoreV1Api(kube_api).create_namespaced_secret(
        namespace, objects.credential_secret("creds", "sk-not-real")
    )
    objects.create(kube_api, namespace, objects.openai_pool("upstream", "creds"))
    _, message = _forbidden(kube_api, namespace, "providerpools", "upstream")
    assert f"get secrets 'creds' in namespace {namespace!r}" in message
    eventually(
        lambda: objects.warnings(kube_api, namespace, "ApiForbidden"), what="a Warning event"
    )
    assert limited_operator.process.alive()
    assert "Traceback" not in limited_operator.process.log_text()

    limited_operator.grant_all()
    objects.wait_condition(
        kube_api,
        namespace,
        "providerpools",
        "upstream",
        "Ready",
        "True",
        timeout=GRANTED_TIMEOUT,
        what="the pool Ready once the permission is granted",
    )


def test_a_gateway_whose_deployment_cannot_be_read_is_degraded_until_granted(
    kube_api: client.ApiClient, namespace: str, limited_operator: LimitedOperator
) -> None:
    # The operator applies the Deployment (patch) but may not read it back for the status.
    limited_operator.set_rules(_without("deployments", {"get"}))
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(kube_api, namespace, objects.gateway("unseen", tls={"mode": "none"}))
    degraded, message = _forbidden(kube_api, namespace, "gateways", "unseen")
    assert f"get deployments.apps 'unseen' in namespace {namespace!r}" in message
    # Readiness is not guessed while the Deployment cannot be seen.
    assert objects.condition(degraded, "Ready") is None or (
        objects.must(objects.condition(degraded, "Ready"))["status"] != "True"
    )
    assert objects.exists(
        client.AppsV1Api(kube_api).read_namespaced_deployment, "unseen", namespace
    )
    assert "Traceback" not in limited_operator.process.log_text()

    limited_operator.grant_all()
    objects.wait_condition(
        kube_api,
        namespace,
        "gateways",
        "unseen",
        "Degraded",
        "False",
        "Reconciled",
        timeout=GRANTED_TIMEOUT,
        what="Degraded=False once the permission is granted",
    )
    objects.wait_ready(kube_api, namespace, "unseen", replicas=1)


def test_a_vector_cluster_the_operator_may_not_fence_is_degraded_until_granted(
    kube_api: client.ApiClient, namespace: str, limited_operator: LimitedOperator
) -> None:
    limited_operator.set_rules(_without("networkpolicies", REFUSED))
    objects.create(
        kube_api,
        namespace,
        {
            "apiVersion": "runestone.dev/v1alpha1",
            "kind": "VectorCluster",
            "metadata": {"name": "vec"},
            "spec": vectorclusters.spec(replicas=1),
        },
    )
    _, message = _forbidden(kube_api, namespace, "vectorclusters", "vec")
    assert f"networkpolicies.networking.k8s.io 'vec-members' in namespace {namespace!r}" in (
        message
    )
    eventually(
        lambda: objects.warnings(kube_api, namespace, "ApiForbidden"), what="a Warning event"
    )
    assert "Traceback" not in limited_operator.process.log_text()

    limited_operator.grant_all()
    objects.wait_condition(
        kube_api,
        namespace,
        "vectorclusters",
        "vec",
        "Degraded",
        "False",
        timeout=GRANTED_TIMEOUT,
        what="Degraded=False once the permission is granted",
    )
    assert objects.exists(client.AppsV1Api(kube_api).read_namespaced_stateful_set, "vec", namespace)
