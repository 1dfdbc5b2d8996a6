"""A VectorCluster from the operator: three real Weaviate members form one cluster; issued keys,
client TLS and the member gate behave as documented in docs/vectorcluster.md."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from kubernetes import client

from devcluster import storage
from devcluster import weaviate as wv
from devcluster.kube import eventually
from integration.vectorcluster import vectorclusters
from integration.vectorcluster.vectorclusters import COLLECTION, Clusters

NAME = "docs"
OBJECTS = 40


def _env(container: Any) -> dict[str, str]:
    return {e.name: e.value for e in container.env if e.value is not None}


@pytest.mark.timeout(900)
def test_operator_builds_a_keyed_tls_cluster_whose_gate_follows_each_member(
    clusters: Clusters, kube_api: client.ApiClient
) -> None:
    started = time.monotonic()
    clusters.create(NAME, vectorclusters.spec(replicationFactor=3))
    clusters.wait_condition(NAME, "Ready", "True", timeout=400)
    print(f"Ready {time.monotonic() - started:.0f}s after the VectorCluster was created")

    # What the operator rendered.
    apps = client.AppsV1Api(kube_api)
    sts = apps.read_namespaced_stateful_set(NAME, clusters.namespace)
    assert sts.spec.pod_management_policy == "Parallel"
    assert sts.spec.update_strategy.type == "OnDelete"
    assert sts.spec.service_name == f"{NAME}-members"
    template = sts.spec.template.spec
    assert [g.condition_type for g in template.readiness_gates] == [vectorclusters.GATE]
    assert template.service_account_name == f"runestone-vector-{NAME}"
    assert template.termination_grace_period_seconds >= 60
    assert [c.name for c in template.containers] == ["weaviate", "sidecar"]
    weaviate = next(c for c in template.containers if c.name == "weaviate")
    env = _env(weaviate)
    hostname = next(e for e in weaviate.env if e.name == "CLUSTER_HOSTNAME")
    assert hostname.value_from.field_ref.field_path == "metadata.name"
    assert env["RAFT_BOOTSTRAP_EXPECT"] == "3"
    assert env["RAFT_JOIN"] == "docs-0,docs-1,docs-2"
    assert env["CLUSTER_JOIN"].split(",")[0] == (
        f"docs-0.docs-members.{clusters.namespace}.svc.cluster.local:7100"
    )
    assert env["DISABLE_TELEMETRY"] == "true"
    assert env["REPLICATION_MINIMUM_FACTOR"] == "3"
    secret_env = {
        e.name: e.value_from.secret_key_ref.name
        for e in weaviate.env
        if e.value_from and e.value_from.secret_key_ref
    }
    assert secret_env["AUTHENTICATION_APIKEY_ALLOWED_KEYS"] == f"{NAME}-weaviate-auth"
    assert "--tls-port" in weaviate.args
    (claims,) = sts.spec.volume_claim_templates
    assert claims.spec.storage_class_name == storage.STORAGE_CLASS
    for i in range(3):  # each member's data lives on its own claim's volume
        volume = storage.claim_directory(clusters.core, clusters.namespace, f"data-{NAME}-{i}")
        assert volume is not None
        assert (volume / "raft").is_dir()
    service = clusters.core.read_namespaced_service(NAME, clusters.namespace)
    assert {(p.port, p.target_port) for p in service.spec.ports if p.name == "https"} == {
        (443, "client")
    }
    policy = client.PolicyV1Api(kube_api).read_namespaced_pod_disruption_budget(
        NAME, clusters.namespace
    )
    assert policy.spec.max_unavailable == 1
    fence = client.NetworkingV1Api(kube_api).read_namespaced_network_policy(
        f"{NAME}-members", clusters.namespace
    )
    internal = {p.port for p in fence.spec.ingress[0].ports}
    assert internal == {7100, 7101, 8300, 8301}
    assert (
        fence.spec.ingress[0]._from[0].pod_selector.match_labels["app.kubernetes.io/instance"]
        == NAME
    )
    headless = clusters.core.read_namespaced_service(f"{NAME}-members", clusters.namespace)
    assert headless.spec.cluster_ip == "None"
    assert headless.spec.publish_not_ready_addresses

    status = clusters.get(NAME)["status"]
    assert status["readyReplicas"] == 3
    assert [m["pod"] for m in status["members"]] == ["docs-0", "docs-1", "docs-2"]
    assert all(m["ready"] for m in status["members"])

    # Keys the operator issued, over TLS verified against the operator's CA.
    admin_key, viewer_key = clusters.key(NAME, "gateway"), clusters.key(NAME, "analytics")
    assert admin_key.startswith("rsk_")
    assert viewer_key.startswith("rsk_")
    admin = clusters.member(NAME, "docs-0", admin_key)
    assert {n["name"] for n in admin.nodes() if n["status"] == "HEALTHY"} == {
        "docs-0",
        "docs-1",
        "docs-2",
    }
    admin.create_collection(COLLECTION, replication_factor=3)
    admin.insert(COLLECTION, vectorclusters.objects(OBJECTS))
    vectorclusters.wait_indexed(admin)
    for pod in ("docs-0", "docs-1", "docs-2"):
        member = clusters.member(NAME, pod, admin_key)
        eventually(
            lambda m=member: wv.wait_for(lambda: m.count(COLLECTION) == OBJECTS),  # type: ignore[misc]
            timeout=60,
            what=f"{pod} to count every object",
        )
    # status.members counts the shards Weaviate places on each member.
    placed = {n["name"]: len(n.get("shards") or []) for n in admin.nodes(verbose=True)}
    assert all(placed.values()), placed
    eventually(
        lambda: (
            {m["pod"]: m.get("shards") for m in clusters.get(NAME)["status"]["members"]} == placed
        ),
        timeout=60,
        what=f"status.members to count the shards {placed}",
    )
    viewer = clusters.member(NAME, "docs-1", viewer_key)
    assert viewer.count(COLLECTION) == OBJECTS
    refused = viewer.request(
        "POST", "/v1/objects", {"class": COLLECTION, "properties": {"title": "x"}}
    )
    assert refused.status_code == 403
    anonymous = clusters.member(NAME, "docs-1", None)
    assert anonymous.request("GET", "/v1/objects").status_code == 401
    # The client port speaks TLS only: Go's TLS server answers plain HTTP with 400.
    plain = wv.Client(wv.member_url(clusters.address("docs-1"), 8443), admin_key)
    assert plain.request("GET", "/v1/nodes").status_code == 400

    # A member dies: its gate goes False, reads keep working on the others.
    ids = admin.object_ids(COLLECTION)
    wv.kill_container(clusters.kubelet, clusters.namespace, "docs-2")
    failures = []
    deadline = time.monotonic() + 120
    rounds = 0
    while clusters.gate("docs-2") != "False":
        assert time.monotonic() < deadline, "the gate of the dead member stayed True"
        for pod in ("docs-0", "docs-1"):
            member = clusters.member(NAME, pod, admin_key)
            rounds += 1
            try:
                assert len(member.near_vector(COLLECTION, vectorclusters.vector(rounds))) == 3
                member.get(COLLECTION, ids[rounds % len(ids)])
            except (wv.WeaviateError, httpx.HTTPError, AssertionError) as error:
                failures.append(str(error))
        time.sleep(0.5)
    took = time.monotonic() - deadline + 120
    print(f"gate False {took:.0f}s after the kill; {rounds} reads, {len(failures)} failed")
    assert failures == []
    eventually(
        lambda: clusters.get(NAME)["status"]["readyReplicas"] == 2,
        timeout=60,
        what="readyReplicas 2",
    )
    clusters.wait_condition(NAME, "Ready", "False")

    wv.release_container(clusters.kubelet, clusters.namespace, "docs-2")
    eventually(
        lambda: clusters.gate("docs-2") == "True",
        timeout=300,
        interval=1,
        what="the gate back to True",
    )
    clusters.wait_condition(NAME, "Ready", "True")
    back = clusters.member(NAME, "docs-2", admin_key)
    assert back.count(COLLECTION) == OBJECTS
