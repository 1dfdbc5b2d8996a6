"""A Gateway joined to a VectorCluster by `spec.vectorStores`, on the real control plane with a
real Weaviate member: `VectorStoreReady` goes from VectorClusterNotFound (with a Warning Event)
through VectorClusterNotReady to True as the cluster is created later and its member comes up;
the cluster issues the gateway an admin key of its own, which the gateway's Deployment mounts with
the cluster's CA; the rendered config passes the gateway's own loader; with that config and key a
real gateway process uploads, indexes and searches a file through the member with the `openai`
SDK; and when the reference goes, the condition goes, the key's Secret goes, and once the member
has restarted Weaviate refuses the old key."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client

from devcluster import resources
from devcluster import weaviate as wv
from devcluster.kube import eventually
from fixtures.upstreams import gateway_process
from integration.vectorcluster import vectorclusters
from integration.vectorcluster.vectorclusters import Clusters
from runestone_gateway.process import loader

CLUSTER = "docs"
GATEWAY = "main"
KEY_SECRET = f"{CLUSTER}-key-gateway.{GATEWAY}"
CONDITION = "VectorStoreReady"
EMBEDDING = "mock-embedding"
TEXT = "Sourdough bread rises because wild yeast ferments the dough overnight."


def _gateway(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = resources.custom(api).get_namespaced_custom_object(
        resources.GROUP, resources.VERSION, namespace, "gateways", GATEWAY
    )
    return found


def _link(api: client.ApiClient, namespace: str) -> dict[str, Any] | None:
    conditions = _gateway(api, namespace).get("status", {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == CONDITION), None)


def _reasons_until_ready(api: client.ApiClient, namespace: str) -> list[str]:
    """Every reason `VectorStoreReady` showed, in order, until it is True."""
    seen: list[str] = []

    def ready() -> bool:
        found = _link(api, namespace)
        if found is not None and (not seen or seen[-1] != found["reason"]):
            seen.append(found["reason"])
        return found is not None and found["status"] == "True"

    eventually(ready, timeout=400, interval=0.5, what=f"{CONDITION} True (seen {seen})")
    return seen


def _rendered(core: client.CoreV1Api, namespace: str) -> dict[str, Any]:
    data = core.read_namespaced_config_map(f"{GATEWAY}-config", namespace).data or {}
    document: dict[str, Any] = yaml.safe_load(data["config.yaml"])
    return document


def _secret(core: client.CoreV1Api, namespace: str, name: str, key: str) -> bytes:
    return base64.b64decode((core.read_namespaced_secret(name, namespace).data or {})[key])


def _local_copy(
    core: client.CoreV1Api, namespace: str, deployment: dict[str, Any], workdir: Path
) -> dict[str, str]:
    """Every file the gateway pod mounts from a Secret, copied under `workdir`: the pod's path
    -> the copy's path (what the process kubelet would mount)."""
    spec = deployment["spec"]["template"]["spec"]
    container = next(c for c in spec["containers"] if c["name"] == "gateway")
    volumes = {v["name"]: v for v in spec["volumes"]}
    copies = {}
    for mount in container["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        items = secret.get("items") or [{"key": "keys.yaml", "path": "keys.yaml"}]
        for item in items:
            local = workdir / mount["name"] / item["path"]
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(_secret(core, namespace, secret["secretName"], item["key"]))
            copies[f"{mount['mountPath']}/{item['path']}"] = str(local)
    return copies


def _wait_revoked(clusters: Clusters, member: str, old_pod: str, key: str) -> None:
    """Until the gateway's key is gone from the cluster's status and its Secret is deleted, and
    then until `member` has restarted (a new pod, gate True) and refuses `key` (Weaviate reads
    its keys only at start)."""
    eventually(
        lambda: not clusters.get(CLUSTER)["status"].get("gatewayKeys"),
        timeout=60,
        what="the key gone from status.gatewayKeys",
    )
    eventually(
        lambda: (
            KEY_SECRET
            not in {
                s.metadata.name
                for s in clusters.core.list_namespaced_secret(clusters.namespace).items
            }
        ),
        timeout=60,
        what="the key's Secret deleted",
    )

    def refused() -> bool:
        pod = clusters.core.read_namespaced_pod(member, clusters.namespace)
        if pod.metadata.uid == old_pod or clusters.gate(member) != "True":
            return False
        try:
            answer = wv.Client(wv.member_url(clusters.address(member)), key).request(
                "GET", "/v1/schema"
            )
        except httpx.HTTPError:
            return False
        return answer.status_code == 401

    eventually(refused, timeout=400, interval=1, what="the restarted member refusing the key")


@pytest.mark.timeout(1500)
def test_a_gateway_joined_to_a_vector_cluster(
    clusters: Clusters,
    start_gateway: gateway_process.GatewayStarter,
    tmp_path: Path,
) -> None:
    api, namespace, core = clusters.api, clusters.namespace, clusters.core
    apps = client.AppsV1Api(api)
    resources.create(api, namespace, resources.mock_pool("mock"))
    stores = {
        "vectorClusterRef": {"name": CLUSTER},
        "embeddingModel": EMBEDDING,
        "chunking": {"maxChunkSizeTokens": 200, "chunkOverlapTokens": 50},
        "maxFileBytes": 100_000,
    }
    resources.create(
        api, namespace, resources.gateway(GATEWAY, tls={"mode": "none"}, vectorStores=stores)
    )

    # No cluster yet: the gateway serves everything else, without the vectorStores section.
    missing = eventually(
        lambda: _link(api, namespace) or {}, timeout=60, what=f"{CONDITION} on the Gateway"
    )
    assert (missing["status"], missing["reason"]) == ("False", "VectorClusterNotFound")
    assert CLUSTER in missing["message"]
    assert "vectorStores" not in _rendered(core, namespace)
    warning = eventually(
        lambda: [
            e
            for e in core.list_namespaced_event(namespace).items
            if e.reason == "VectorClusterNotFound" and e.involved_object.name == GATEWAY
        ],
        timeout=30,
        what="the Warning Event",
    )
    assert warning[0].type == "Warning"

    # The cluster, created later: not ready while its member starts, then linked.
    clusters.create(CLUSTER, vectorclusters.spec(replicas=1))
    seen = _reasons_until_ready(api, namespace)
    assert "VectorClusterNotReady" in seen, seen
    assert seen[-1] == "Linked"

    # The key the cluster issued the gateway: listed in its status, in its own Secret, an admin.
    issued = clusters.get(CLUSTER)["status"]["gatewayKeys"]
    assert [(k["name"], k["gateway"], k["secretName"], k["accepted"]) for k in issued] == [
        (f"gateway.{GATEWAY}", GATEWAY, KEY_SECRET, True)
    ]
    assert [k["name"] for k in clusters.get(CLUSTER)["status"]["apiKeys"]] == [
        "gateway",
        "analytics",
    ]
    key = _secret(core, namespace, KEY_SECRET, "api-key").decode()
    member = f"{CLUSTER}-0"
    address = clusters.address(member)
    as_gateway = wv.Client(wv.member_url(address), key)
    as_gateway.create_collection("LinkProbe", replication_factor=1)  # writing needs an admin
    as_gateway.ok("DELETE", "/v1/schema/LinkProbe")

    # The rendered config names the cluster's Service, its CA and the key, all mounted.
    rendered = _rendered(core, namespace)
    section = rendered["vectorStores"]
    assert section["url"] == f"https://{CLUSTER}.{namespace}.svc:443"
    assert section["embeddingModel"] == EMBEDDING
    assert section["replicationFactor"] == 1
    assert section["maxFileBytes"] == 100_000
    assert section["chunking"] == {"maxChunkSizeTokens": 200, "chunkOverlapTokens": 50}
    deployment = api.sanitize_for_serialization(apps.read_namespaced_deployment(GATEWAY, namespace))
    copies = _local_copy(core, namespace, deployment, tmp_path / "mounted")
    assert Path(copies[section["apiKeyFile"]]).read_text() == key
    published_ca = _secret(core, namespace, f"{CLUSTER}-ca", "ca.crt").decode()
    assert Path(copies[section["caFile"]]).read_text() == published_ca

    # The gateway's own loader takes the rendered file as it is, with the mounted files in place.
    text = yaml.safe_dump(rendered)
    for pod_path, local in copies.items():
        text = text.replace(pod_path, local)
    local_config = tmp_path / "config.yaml"
    local_config.write_text(text)
    loaded = loader.load(local_config)
    assert loaded.config.vector_stores is not None
    assert loaded.secrets[copies[section["apiKeyFile"]]] == key

    # A real gateway process with that config and key. Service names do not resolve on this
    # host, so the member's plain-HTTP port (its loopback listener, at its pod address here)
    # stands for the client Service.
    document = yaml.safe_load(text)
    del document["auth"]  # the starter writes a key table of its own
    document["vectorStores"]["url"] = wv.member_url(address)
    del document["vectorStores"]["caFile"]
    gateway = start_gateway(document)
    sdk = gateway.client()
    store = sdk.vector_stores.create(name="linked")
    attached = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("bread.txt", io.BytesIO(TEXT.encode()))
    )
    assert attached.status == "completed", attached.last_error
    hits = sdk.vector_stores.search(store.id, query="why does sourdough bread rise")
    assert hits.data[0].filename == "bread.txt"
    assert 0 < hits.data[0].score <= 1
    assert "wild yeast" in hits.data[0].content[0].text
    gateway.stop()

    # The reference goes: so do the condition, the key's Secret and, after the member's
    # restart, Weaviate's acceptance of the key.
    old_pod = core.read_namespaced_pod(member, namespace).metadata.uid
    resources.custom(api).patch_namespaced_custom_object(
        resources.GROUP,
        resources.VERSION,
        namespace,
        "gateways",
        GATEWAY,
        {"spec": {"vectorStores": None}},
    )
    eventually(lambda: _link(api, namespace) is None, timeout=60, what=f"{CONDITION} removed")
    eventually(
        lambda: "vectorStores" not in _rendered(core, namespace),
        timeout=60,
        what="the config without vectorStores",
    )
    _wait_revoked(clusters, member, old_pod, key)
    operator_key = clusters.secret_value(f"{CLUSTER}-operator-key", "api-key")
    still = wv.Client(wv.member_url(clusters.address(member)), operator_key)
    assert still.request("GET", "/v1/schema").status_code == 200


@pytest.mark.timeout(1200)
def test_a_gateway_joining_a_running_cluster_waits_for_its_key_and_loses_it_when_deleted(
    clusters: Clusters,
) -> None:
    """A Gateway that references a cluster already serving waits until the members have
    restarted with its new key; deleting the Gateway revokes the key.

    While it waits, the condition says GatewayKeyPending while the old member still serves, and
    VectorClusterNotReady while the only member restarts; which of the two a poll catches first
    depends on how soon the Gateway's reconcile runs after the cluster's, so either may be seen.
    What may not be seen is `Linked` before the member was replaced."""
    api, namespace, core = clusters.api, clusters.namespace, clusters.core
    clusters.create(CLUSTER, vectorclusters.spec(replicas=1))
    clusters.wait_condition(CLUSTER, "Ready", "True", timeout=400)
    member = f"{CLUSTER}-0"
    serving_pod = core.read_namespaced_pod(member, namespace).metadata.uid
    resources.create(api, namespace, resources.mock_pool("mock"))
    stores = {"vectorClusterRef": {"name": CLUSTER}, "embeddingModel": EMBEDDING}
    resources.create(
        api, namespace, resources.gateway(GATEWAY, tls={"mode": "none"}, vectorStores=stores)
    )
    seen = _reasons_until_ready(api, namespace)
    waiting = {"GatewayKeyPending", "VectorClusterNotReady"}
    assert seen[-1] == "Linked", seen
    assert seen[:-1], f"linked at once, never waiting for the key: {seen}"
    assert set(seen[:-1]) <= waiting, seen
    assert core.read_namespaced_pod(member, namespace).metadata.uid != serving_pod, (
        "linked before the member restarted with the gateway's key"
    )
    key = _secret(core, namespace, KEY_SECRET, "api-key").decode()
    answer = wv.Client(wv.member_url(clusters.address(member)), key).request("GET", "/v1/schema")
    assert answer.status_code == 200

    old_pod = core.read_namespaced_pod(member, namespace).metadata.uid
    resources.custom(api).delete_namespaced_custom_object(
        resources.GROUP, resources.VERSION, namespace, "gateways", GATEWAY
    )
    _wait_revoked(clusters, member, old_pod, key)
