"""The configured replication factor and collections that exist already: new collections get
it; a raised one is asked of Weaviate on the gateway's next use of it, and when Weaviate refuses
(its shards have no replicas to add yet) the log says so and what to do; a lowered one Weaviate
cannot follow, which the log says. Requests are served throughout. Two real Weaviate members on
loopback addresses of their own (a factor of two needs two nodes)."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster import gobuild, processes
from fixtures.upstreams import gateway_process, keys
from integration.gateway import vector_stores

ADDRESSES = ("127.26.0.1", "127.26.0.2")
"""Each member binds gossip and Raft on the same ports at an address of its own, as pods do."""
COLLECTIONS = ("RunestoneFile", "RunestoneFilePart", "RunestoneVectorStore",
               "RunestoneVectorStoreFile", "RunestoneFileBatch", "RunestoneChunk")  # fmt: skip


@pytest.fixture
def two_members(tmp_path: Path) -> Iterator[str]:
    """The first member's REST URL, once both members are healthy."""
    binary = gobuild.ensure(["weaviate"])["weaviate-server"]
    rest = [processes.free_port() for _ in ADDRESSES]
    members: list[subprocess.Popen[bytes]] = []
    try:
        for n, address in enumerate(ADDRESSES):
            workdir = tmp_path / f"member{n}"
            workdir.mkdir()
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(workdir),
                "PERSISTENCE_DATA_PATH": str(workdir / "data"),
                "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
                "CLUSTER_HOSTNAME": f"node{n}",
                "CLUSTER_BIND_ADDR": address,
                "CLUSTER_ADVERTISE_ADDR": address,
                "CLUSTER_GOSSIP_BIND_PORT": "7100",
                "CLUSTER_DATA_BIND_PORT": str(processes.free_port()),
                "CLUSTER_JOIN": f"{ADDRESSES[0]}:7100",
                "RAFT_PORT": "8300",
                "RAFT_INTERNAL_RPC_PORT": "8301",
                "RAFT_JOIN": "node0,node1",
                "RAFT_BOOTSTRAP_EXPECT": "2",
                "GRPC_PORT": str(processes.free_port()),
                "DEFAULT_VECTORIZER_MODULE": "none",
                "DISABLE_TELEMETRY": "true",
                "LOG_LEVEL": "warning",
            }
            with open(workdir / "weaviate.log", "wb") as log:
                members.append(subprocess.Popen(
                    [str(binary), "--host", address, "--port", str(rest[n]), "--scheme", "http"],
                    env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                ))  # fmt: skip
        url = f"http://{ADDRESSES[0]}:{rest[0]}"

        def healthy() -> bool:
            try:
                nodes = get(url, "/v1/nodes")["nodes"]
            except httpx.HTTPError:
                return False
            return len(nodes) == 2 and all(node["status"] == "HEALTHY" for node in nodes)

        gateway_process.eventually(healthy, timeout=120, what="two healthy Weaviate members")
        yield url
    finally:
        for member in members:
            processes.stop(member)


def get(url: str, path: str) -> Any:
    return httpx.get(url + path, timeout=10).raise_for_status().json()


def factors(url: str) -> dict[str, int]:
    return {
        entry["class"]: entry["replicationConfig"]["factor"]
        for entry in get(url, "/v1/schema")["classes"]
        if entry["class"] in COLLECTIONS
    }


def document(url: str, table: Path, factor: int) -> dict[str, Any]:
    embedding = gateway_process.model(vector_stores.EMBEDDING, kinds=["embedding"])
    return {
        "auth": keys.write_table(table, vector_stores.OWNER),
        "providerPools": [
            gateway_process.pool("p", [gateway_process.provider("mock", models=[embedding])])
        ],
        "vectorStores": {"url": url, "embeddingModel": vector_stores.EMBEDDING,
                         "replicationFactor": factor},
    }  # fmt: skip


def drop_collections(url: str) -> None:
    for name in COLLECTIONS:
        httpx.delete(url + f"/v1/schema/{name}", timeout=30).raise_for_status()


def test_a_changed_replication_factor_on_existing_collections_is_said(
    two_members: str, start_gateway: gateway_process.GatewayStarter, tmp_path: Path
) -> None:
    table = tmp_path / "keys.yaml"
    # New collections get the configured factor.
    gateway = start_gateway(document(two_members, table, 2))
    sdk = vector_stores.client(gateway)
    sdk.files.list()
    assert factors(two_members) == dict.fromkeys(COLLECTIONS, 2)
    # Lowered: Weaviate cannot, the log says so, and requests are served as before.
    gateway.write_config(document(two_members, table, 1))
    gateway_process.eventually(
        lambda: sdk.files.list() and "cannot lower" in gateway.stderr(),
        timeout=60, what="the lowered factor logged",
    )  # fmt: skip
    assert "the replication factor of RunestoneChunk stays 2, more than the configured 1" in (
        gateway.stderr()
    )
    assert factors(two_members) == dict.fromkeys(COLLECTIONS, 2)
    gateway.stop()

    # Raised: Weaviate 1.39 grants it only where the shards have the replicas already, which
    # fresh collections do not; the log says what to do, and nothing fails.
    drop_collections(two_members)
    gateway = start_gateway(document(two_members, table, 1))
    sdk = vector_stores.client(gateway)
    file = sdk.files.create(file=("kept.txt", io.BytesIO(b"kept")), purpose="assistants")
    assert factors(two_members) == dict.fromkeys(COLLECTIONS, 1)
    gateway.write_config(document(two_members, table, 2))
    gateway_process.eventually(
        lambda: sdk.files.retrieve(file.id) and "refused to raise" in gateway.stderr(),
        timeout=60, what="the raise Weaviate refused logged",
    )  # fmt: skip
    assert "the replication factor of RunestoneFile stays 1, not the configured 2" in (
        gateway.stderr()
    )
    assert sdk.files.content(file.id).content == b"kept"
    assert factors(two_members) == dict.fromkeys(COLLECTIONS, 1)
