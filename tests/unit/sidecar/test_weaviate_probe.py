"""The weaviate probe against answers recorded from a real weaviate-server 1.39.3 (API-key auth,
one node `node-a`, collections with two shards and one tenant; one shard set READONLY)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from runestone_sidecar import conditions
from runestone_sidecar.probes.engines import weaviate

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> Any:
    return json.loads((DATA / f"weaviate-1.39.3-{name}.json").read_text())


def test_healthy_member_with_serving_shards() -> None:
    result = weaviate.judge_nodes(recorded("nodes-verbose"), "node-a")
    assert result.ok, result.message
    assert result.reason == conditions.TARGET_READY


def test_a_member_without_collections_is_ready() -> None:
    assert weaviate.judge_nodes(recorded("nodes-verbose-no-shards"), "node-a").ok


def test_a_read_only_shard_is_not_ready_and_is_named() -> None:
    result = weaviate.judge_nodes(recorded("nodes-verbose-readonly-shard"), "node-a")
    assert not result.ok
    assert result.reason == conditions.SHARDS_NOT_READY
    assert "Doc/kOSofIzzqDQv READONLY" in result.message
    assert "1 shard(s)" in result.message


@pytest.mark.parametrize("state", ["LOADING", "SHUTDOWN", "SOMETHING_NEW"])
def test_loading_shutdown_and_unknown_shard_states_are_not_ready(state: str) -> None:
    payload = recorded("nodes-verbose")
    payload["nodes"][0]["shards"][2]["vectorIndexingStatus"] = state
    result = weaviate.judge_nodes(payload, "node-a")
    assert (result.ok, result.reason) == (False, conditions.SHARDS_NOT_READY)
    assert f"Note/tenantA {state}" in result.message


@pytest.mark.parametrize("state", ["INDEXING", "LAZY_LOADING"])
def test_indexing_and_lazily_loaded_shards_serve(state: str) -> None:
    payload = recorded("nodes-verbose")
    payload["nodes"][0]["shards"][0]["vectorIndexingStatus"] = state
    payload["nodes"][0]["shards"][0]["loaded"] = state != "LAZY_LOADING"
    assert weaviate.judge_nodes(payload, "node-a").ok


def with_queues(*lengths: int | None) -> Any:
    """The recorded answer with these vectorQueueLengths on its shards (None: not reported)."""
    payload = recorded("nodes-verbose")
    for shard, length in zip(payload["nodes"][0]["shards"], lengths, strict=True):
        if length is None:
            del shard["vectorQueueLength"]
        else:
            shard.update(vectorQueueLength=length, vectorIndexingStatus="INDEXING")
    return payload


def test_a_member_whose_queue_holds_a_backlog_is_held_back_and_the_shard_named() -> None:
    """A restarted member answers searches while it indexes the vectors its queue held at
    start-up, and misses them until then (test_crash_index.py): it is not admitted yet, but a
    member already serving is not taken out for it (base.catching_up)."""
    limit = weaviate.MAX_QUEUED_VECTORS
    result = weaviate.judge_nodes(with_queues(0, limit + 1, 12_000), "node-a")
    assert (result.ok, result.reason, result.keeps_ready) == (False, "IndexBehind", True)
    assert "2 shard(s)" in result.message
    assert f"Doc/kOSofIzzqDQv {limit + 1}, Note/tenantA 12000" in result.message


@pytest.mark.parametrize("lengths", [(0, 0, 0), (70, 1000, 3), (None, 5, None)])
def test_a_member_with_a_few_vectors_queued_is_ready(lengths: tuple[int | None, ...]) -> None:
    """Under steady writes a member always has a few vectors queued; it must still turn ready."""
    result = weaviate.judge_nodes(with_queues(*lengths), "node-a")
    assert result.ok, result.message


def three_members(status_of_b: str) -> Any:
    payload = recorded("nodes-verbose")
    node = payload["nodes"][0]
    for name, status in (("node-b", status_of_b), ("node-c", "HEALTHY")):
        other = copy.deepcopy(node)
        other.update(name=name, status=status)
        payload["nodes"].append(other)
    return payload


@pytest.mark.parametrize("status", ["UNHEALTHY", "UNAVAILABLE", "TIMEOUT"])
def test_this_member_must_be_healthy_others_do_not_matter(status: str) -> None:
    payload = three_members(status)
    assert weaviate.judge_nodes(payload, "node-a").ok
    result = weaviate.judge_nodes(payload, "node-b")
    assert (result.ok, result.reason) == (False, conditions.NODE_UNHEALTHY)
    assert f"node-b is {status}" in result.message


def test_a_member_missing_from_the_cluster() -> None:
    result = weaviate.judge_nodes(three_members("HEALTHY"), "docs-7")
    assert (result.ok, result.reason) == (False, conditions.NODE_NOT_IN_CLUSTER)
    assert "node-a, node-b, node-c" in result.message


@pytest.mark.parametrize(
    "payload",
    [None, [], {"nodes": "x"}, {"nodes": [{"name": "node-a", "status": "HEALTHY", "shards": 3}]}],
)
def test_malformed_answers_are_bad_responses(payload: Any) -> None:
    result = weaviate.judge_nodes(payload, "node-a")
    assert (result.ok, result.reason) == (False, conditions.BAD_RESPONSE)


# --- the probe end to end against a stand-in serving the recorded answers -------------------


@pytest.fixture
async def fake_weaviate() -> AsyncIterator[
    Callable[[dict[str, tuple[int, bytes]]], Awaitable[tuple[str, list[bytes]]]]
]:
    servers: list[asyncio.Server] = []

    async def start(routes: dict[str, tuple[int, bytes]]) -> tuple[str, list[bytes]]:
        seen: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            seen.append(head)
            path = head.split(b" ")[1].decode()
            status, body = routes.get(path, (404, b"{}"))
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
            )
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen

    yield start
    for server in servers:
        server.close()


READY_PATH = "/v1/.well-known/ready"
NODES_PATH = "/v1/nodes?output=verbose"


async def test_probe_sends_the_key_from_the_file_and_judges(
    fake_weaviate: Callable[[dict[str, tuple[int, bytes]]], Awaitable[tuple[str, list[bytes]]]],
    tmp_path: Path,
) -> None:
    body = (DATA / "weaviate-1.39.3-nodes-verbose.json").read_bytes()
    url, seen = await fake_weaviate({READY_PATH: (200, b""), NODES_PATH: (200, body)})
    key_file = tmp_path / "key"
    key_file.write_text("test-key-123\n")
    probe = weaviate.WeaviateProbe(url, "node-a", key_file, 2.0)
    result = await probe.check()
    assert result.ok, result.message
    assert b"Authorization: Bearer test-key-123\r\n" in seen[1]
    assert b"Authorization" not in seen[0]  # readiness is unauthenticated


async def test_a_refused_key_is_unauthorized_and_the_key_stays_secret(
    fake_weaviate: Callable[[dict[str, tuple[int, bytes]]], Awaitable[tuple[str, list[bytes]]]],
    tmp_path: Path,
) -> None:
    body = (DATA / "weaviate-1.39.3-nodes-401.json").read_bytes()
    url, _ = await fake_weaviate({READY_PATH: (200, b""), NODES_PATH: (401, body)})
    key_file = tmp_path / "key"
    key_file.write_text("wrong-key-456")
    result = await weaviate.WeaviateProbe(url, "node-a", key_file, 2.0).check()
    assert (result.ok, result.reason) == (False, conditions.UNAUTHORIZED)
    assert "wrong-key-456" not in result.message
    assert str(key_file) in result.message


async def test_not_ready_and_garbage_answers(
    fake_weaviate: Callable[[dict[str, tuple[int, bytes]]], Awaitable[tuple[str, list[bytes]]]],
) -> None:
    url, _ = await fake_weaviate({READY_PATH: (503, b"")})
    result = await weaviate.WeaviateProbe(url, "node-a", None, 2.0).check()
    assert (result.ok, result.reason) == (False, conditions.TARGET_NOT_READY)
    url, _ = await fake_weaviate({READY_PATH: (200, b""), NODES_PATH: (200, b"<html>oops")})
    result = await weaviate.WeaviateProbe(url, "node-a", None, 2.0).check()
    assert (result.ok, result.reason) == (False, conditions.BAD_RESPONSE)
