"""The operator's ClusterRole grants a verb on a resource only if the operator calls it: the
operator runs here under a ServiceAccount the local API server audits, through every path it
has (keys issued and revoked, TLS in each mode, autoscaling and disruption budgets on and off,
NetworkPolicy and ServiceMonitor on and off, a VectorCluster's backups on and off and a member
restarted, its leader-election Lease taken and renewed), and the calls the audit log shows are
compared with `operator_rbac.called()` (`CALLS` and `ELECTION`): a grant no call needs fails the
test, and so does a call without a grant (which RBAC refuses anyway).

What the operator holds without calling it (what it delegates to the Roles it builds, and the
owner-reference permission) is checked by tests/unit/operator/test_builder_operator_rbac.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devcluster import cluster, layout, operator_process, storage
from devcluster.kube import Cluster, eventually
from integration.operator import objects, standins
from runestone_operator.core import operator_rbac
from runestone_operator.gateway import names
from runestone_operator.vectorcluster import names as vector_names


@dataclass
class Audited:
    process: operator_process.OperatorProcess
    username: str
    log: Path
    offset: int

    def calls(self) -> set[tuple[str, str, str]]:
        """(group, resource, verb) of every request the operator made since it started; a
        server-side apply that created its object (201) counts as a create too."""
        found: set[tuple[str, str, str]] = set()
        with open(self.log, encoding="utf-8") as log:
            log.seek(self.offset)
            for line in log:
                event: dict[str, Any] = json.loads(line)
                reference = event.get("objectRef")
                if event["user"]["username"] != self.username or reference is None:
                    continue  # another identity, or a discovery request (no resource)
                resource = reference["resource"]
                if reference.get("subresource"):
                    resource += "/" + reference["subresource"]
                group = reference.get("apiGroup", "")
                found.add((group, resource, event["verb"]))
                if event["verb"] == "patch" and event.get("responseStatus", {}).get("code") == 201:
                    found.add((group, resource, "create"))
        return found


@pytest.fixture
def audited_operator(
    kube_cluster: Cluster, operator: operator_process.OperatorProcess, tmp_path: Path
) -> Iterator[Audited]:
    """The session's operator stops; one under a ServiceAccount of the audited namespace, bound
    to the operator's ClusterRole and leader-election Role, runs instead, elected on a Lease of
    that namespace."""
    if not kube_cluster.local:
        pytest.fail(
            f"this test reads the local API server's audit log; KUBECONFIG is set to "
            f"{kube_cluster.kubeconfig}"
        )
    log = layout.audit_log()
    if not log.exists():
        pytest.fail(
            f"no audit log at {log}: the control plane was started before it had one; restart "
            "it (`make cluster-down && make cluster-up`)"
        )
    core = client.CoreV1Api(kube_cluster.api)
    eventually(
        lambda: not objects.exists(core.read_namespace, cluster.AUDITED_NAMESPACE),
        timeout=120,
        what=f"namespace {cluster.AUDITED_NAMESPACE} from an earlier run to go",
    )
    identity = operator_process.Identity(
        kube_cluster.api, uuid.uuid4().hex[:6], namespace=cluster.AUDITED_NAMESPACE
    )
    operator.stop()
    try:
        kubeconfig = operator_process.token_kubeconfig(
            kube_cluster.api, identity.create(), tmp_path / "kubeconfig"
        )
        process = operator_process.OperatorProcess(
            kubeconfig,
            tmp_path / "audited-operator.log",
            operator_process.RESYNC_SECONDS,
            lease_namespace=identity.namespace,
        )
        username = f"system:serviceaccount:{identity.namespace}:{operator_process.SERVICE_ACCOUNT}"
        audited = Audited(process, username, log, log.stat().st_size)
        process.start()
        try:
            yield audited
        finally:
            process.stop()
    finally:
        identity.delete()
        operator.start()


def _reconciled(api: client.ApiClient, namespace: str, plural: str, name: str) -> dict[str, Any]:
    """The object once its status is for its current generation."""
    obj = objects.read(api, namespace, plural, name)
    status = obj.get("status") or {}
    assert status.get("observedGeneration") == obj["metadata"]["generation"], "not reconciled"
    return obj


def _gone(read: Any, *args: str) -> bool:
    return not objects.exists(read, *args)


def _wait_gone(read: Any, name: str, namespace: str) -> None:
    eventually(lambda: _gone(read, name, namespace), timeout=60, what=f"{name} to go")


def _gateway_paths(api: client.ApiClient, namespace: str) -> None:
    """A Gateway with every optional child, then without each; keys issued then one revoked;
    its TLS from cert-manager, then from the operator again."""
    core, networking = client.CoreV1Api(api), client.NetworkingV1Api(api)
    policy, autoscaling = client.PolicyV1Api(api), client.AutoscalingV2Api(api)
    custom = objects.custom(api)
    core.create_namespaced_secret(namespace, objects.credential_secret("creds", "sk-not-real"))
    objects.create(api, namespace, objects.mock_pool("mock"))
    objects.create(api, namespace, objects.openai_pool("upstream", "creds"))
    full = {
        "providerPools": [{"name": "mock"}, {"name": "upstream"}],
        "apiKeys": [{"name": "one"}, {"name": "two"}],
        "autoscaling": {"minReplicas": 2, "maxReplicas": 3},
        "metrics": {"serviceMonitor": {"enabled": True}},
    }
    objects.create(api, namespace, objects.gateway("every", **full))
    eventually(
        lambda: custom.get_namespaced_custom_object(
            "monitoring.coreos.com", "v1", namespace, "servicemonitors", "every-metrics"
        ),
        timeout=90,
        what="every child of the Gateway",
    )
    objects.wait_condition(
        api, namespace, "gateways", "every", "Degraded", "False", timeout=60, what="healthy"
    )

    fewer = {
        "apiKeys": [{"name": "one"}],
        "autoscaling": None,
        "replicas": 1,
        "metrics": {"serviceMonitor": {"enabled": False}},
        "networkPolicy": {"enabled": False},
    }
    objects.patch(api, namespace, "gateways", "every", {"spec": fewer})
    for read, name in (
        (core.read_namespaced_secret, names.key_secret("every", "two")),
        (autoscaling.read_namespaced_horizontal_pod_autoscaler, "every"),
        (policy.read_namespaced_pod_disruption_budget, "every"),
        (networking.read_namespaced_network_policy, names.network_policy("every")),
    ):
        _wait_gone(read, name, namespace)

    certificate = {"mode": "certManager", "issuerRef": {"name": "corp", "kind": "ClusterIssuer"}}
    objects.patch(api, namespace, "gateways", "every", {"spec": {"tls": certificate}})
    eventually(
        lambda: custom.get_namespaced_custom_object(
            "cert-manager.io", "v1", namespace, "certificates", "every"
        ),
        timeout=60,
        what="the Certificate",
    )
    self_signed = {"mode": "selfSigned", "issuerRef": None}
    objects.patch(api, namespace, "gateways", "every", {"spec": {"tls": self_signed}})
    eventually(
        lambda: _gone(
            custom.get_namespaced_custom_object,
            "cert-manager.io",
            "v1",
            namespace,
            "certificates",
            "every",
        ),
        timeout=60,
        what="the Certificate to go",
    )
    eventually(lambda: _reconciled(api, namespace, "gateways", "every"), what="the last change")


def _vectorcluster_paths(api: client.ApiClient, namespace: str) -> None:
    """A one-member VectorCluster (kwok plays its pod) with filesystem backups, a member
    restarted, then the backups turned off."""
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    body = {
        "apiVersion": "runestone.dev/v1alpha1",
        "kind": "VectorCluster",
        "metadata": {"name": "vc"},
        "spec": {
            "version": "1.39.3",
            "replicas": 1,
            "storage": {"size": "1Gi", "storageClassName": storage.STORAGE_CLASS},
            "backup": {"schedule": "@daily", "backend": "filesystem"},
        },
    }
    objects.create(api, namespace, body)
    eventually(
        lambda: batch.read_namespaced_cron_job(vector_names.backup_cronjob("vc"), namespace),
        timeout=90,
        what="the backup CronJob",
    )

    def running() -> client.V1Pod:
        pod = core.read_namespaced_pod("vc-0", namespace)
        assert objects.pod_condition(pod, "ContainersReady") == "True", "not running yet"
        return pod

    first = eventually(running, timeout=120, what="the member to run")
    gate = {"type": vector_names.MEMBER_READY_GATE, "status": "True", "reason": "Test"}
    core.patch_namespaced_pod_status("vc-0", namespace, {"status": {"conditions": [gate]}})
    objects.patch(
        api,
        namespace,
        "vectorclusters",
        "vc",
        {
            "metadata": {"annotations": {vector_names.RESTART_REQUEST: "now"}},
            "spec": {"backup": None},
        },
    )
    eventually(
        lambda: core.read_namespaced_pod("vc-0", namespace).metadata.uid != first.metadata.uid,
        timeout=120,
        what="the operator to restart the member",
    )
    eventually(
        lambda: _gone(batch.read_namespaced_cron_job, vector_names.backup_cronjob("vc"), namespace),
        timeout=60,
        what="the CronJob to go",
    )


@pytest.mark.timeout(900)
def test_the_cluster_role_grants_exactly_what_the_operator_calls(
    kube_api: client.ApiClient, namespace: str, local_storage: Path, audited_operator: Audited
) -> None:
    with standins.installed(kube_api, standins.CERTIFICATE_CRD, standins.SERVICE_MONITOR_CRD):
        _gateway_paths(kube_api, namespace)
        _vectorcluster_paths(kube_api, namespace)
        report = objects.must(audited_operator.process.health())
        audited_operator.process.wait_for_resync_passes(report["resyncPasses"] + 2)
    calls = audited_operator.calls()
    granted = operator_rbac.called()
    never_called = sorted(granted - calls)
    not_granted = sorted(calls - granted)
    print("calls seen:", *sorted(calls), sep="\n  ")
    assert not_granted == [], "the operator made calls its CALLS and ELECTION tables do not list"
    assert never_called == [], (
        "its Roles grant these, but the operator never called them: remove them from "
        "operator_rbac.CALLS or ELECTION (or, if a path of the operator was not taken, add it "
        "here)"
    )
    assert "Traceback" not in audited_operator.process.log_text()
