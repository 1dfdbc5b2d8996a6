"""Per-key storage quotas hold under concurrent uploads: uploads that arrive together, each
slow enough to overlap the others, never store more than `maxStoredBytes` or more files than
`maxFiles`, within one gateway process (uploads held in the process) and across two replicas
that share a real Redis (held in the shared store). A refused upload leaves nothing stored."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio

from devcluster.redis import RedisServer
from fixtures.upstreams import gateway_process, keys
from integration.gateway import vector_stores
from integration.sidecar import weaviate
from runestone_gateway import errors
from runestone_gateway.retrieval import files, quotas, records
from runestone_gateway.retrieval import weaviate as weaviate_client

BYTES_QUOTA = keys.key("bytes-quota", limits={"maxStoredBytes": 1_000_000})
FILES_QUOTA = keys.key("files-quota", limits={"maxFiles": 2})
PIECE = 150_000
"""Each upload sends two pieces of this size, pausing between them."""
weaviate_node = vector_stores.weaviate_node  # one Weaviate node for the module


def document(node: weaviate.WeaviateNode, table: Path, redis_url: str | None) -> dict[str, Any]:
    embedding = gateway_process.model(vector_stores.EMBEDDING, kinds=["embedding"])
    found: dict[str, Any] = {
        "auth": keys.write_table(table, BYTES_QUOTA, FILES_QUOTA),
        "providerPools": [
            gateway_process.pool("p", [gateway_process.provider("mock", models=[embedding])])
        ],
        "vectorStores": {
            "url": node.url,
            "apiKeyFile": str(node.key_file),
            "embeddingModel": vector_stores.EMBEDDING,
        },
    }
    if redis_url is not None:
        found["limits"] = {"store": {"type": "redis", "url": redis_url}}
    return found


def upload_slowly(gateway: gateway_process.GatewayProcess, key: keys.Key, size: int,
                  start: threading.Barrier) -> httpx.Response:  # fmt: skip
    boundary = "runestone-quota"

    def body() -> Iterator[bytes]:
        yield vector_stores.multipart_head(boundary, "q.txt")
        yield b"q" * (size // 2)
        time.sleep(1.0)  # every upload is in flight at once
        yield b"q" * (size - size // 2)
        yield f"\r\n--{boundary}--\r\n".encode()

    start.wait()
    return httpx.post(
        f"{gateway.base_url}/files",
        content=body(),
        headers={"authorization": f"Bearer {key.plaintext}",
                 "content-type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )  # fmt: skip


def race(gateways: list[gateway_process.GatewayProcess], key: keys.Key, size: int,
         count: int) -> list[httpx.Response]:  # fmt: skip
    start = threading.Barrier(count)
    answers: list[httpx.Response] = []
    threads = [
        threading.Thread(
            target=lambda n=n: answers.append(
                upload_slowly(gateways[n % len(gateways)], key, size, start)
            )
        )
        for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(answers) == count
    for answer in answers:
        if answer.status_code != 200:
            assert answer.status_code == 403, answer.text
            assert answer.json()["error"]["code"] == "storage_quota_exceeded"
    return [answer for answer in answers if answer.status_code == 200]


@pytest.mark.parametrize("shared", [False, True], ids=["one-process", "replicas-with-redis"])
def test_concurrent_uploads_never_overshoot_the_quotas(
    shared: bool,
    weaviate_node: weaviate.WeaviateNode,
    redis_server: RedisServer,
    start_gateway: gateway_process.GatewayStarter,
    tmp_path: Path,
) -> None:
    doc = document(weaviate_node, tmp_path / "keys.yaml", redis_server.url if shared else None)
    gateways = [start_gateway(doc)] + ([start_gateway(doc)] if shared else [])
    sdk = gateways[0].client(api_key=BYTES_QUOTA.plaintext)
    for file in sdk.files.list():  # the other parametrization's
        sdk.files.delete(file.id)
    parts_before = vector_stores.part_count(weaviate_node)

    # Eight uploads of 300 kB against 1 MB: at most three fit.
    stored = race(gateways, BYTES_QUOTA, 2 * PIECE, 8)
    assert 1 <= len(stored) <= 3
    kept = list(sdk.files.list())
    assert sum(file.bytes for file in kept) <= 1_000_000
    assert {file.id for file in kept} == {answer.json()["id"] for answer in stored}

    # Six small uploads against two files.
    few = gateways[-1].client(api_key=FILES_QUOTA.plaintext)
    for file in few.files.list():
        few.files.delete(file.id)
    assert 1 <= len(race(gateways, FILES_QUOTA, 2_000, 6)) <= 2
    assert len(list(few.files.list())) <= 2

    # What the refused uploads stored is gone; the holds went with them, so the room is back.
    def parts_of_kept() -> int:
        kept = [*sdk.files.list(), *few.files.list()]
        return sum(-(-file.bytes // (192 * 1024)) for file in kept)  # parts of 192 KiB

    gateway_process.eventually(
        lambda: vector_stores.part_count(weaviate_node) - parts_before == parts_of_kept(),
        timeout=30, what="the refused uploads' parts deleted",
    )  # fmt: skip
    for client in (sdk, few):
        for file in client.files.list():
            client.files.delete(file.id)
    assert len(race(gateways, BYTES_QUOTA, 2 * PIECE, 1)) == 1


@pytest.mark.parametrize("shared", [False, True], ids=["one-process", "redis"])
async def test_uploads_that_all_ask_for_more_at_once_leave_room_to_the_ones_that_fit(
    shared: bool, weaviate_node: weaviate.WeaviateNode, redis_server: RedisServer
) -> None:
    """Five uploads hold 190 kB each of a 1 MB quota and all ask for 300 kB at once (their second
    piece arrived together). Each ask is measured under the owner's lock; a refused upload gives
    its room back under that lock, so the asks after it see it: three fit (900 kB), two are
    refused, and the refused ones hold nothing."""
    owner = f"racing-{shared}"
    client = weaviate_client.Client(weaviate_node.url, weaviate.API_KEY, None)
    shared_store = redis.asyncio.Redis.from_url(redis_server.url)
    ledger: quotas.Ledger = quotas.SharedLedger(shared_store) if shared else quotas.LocalLedger()
    try:
        store = records.Records(client, replication_factor=1)
        await store.ready()
        quota = files.Quota(ledger, max_bytes=1_000_000, max_files=None)
        uploads = [f"file-{shared}-{n}" for n in range(5)]
        for upload in uploads:
            assert await quota.take(store, owner, upload, 190_000) == 190_000
        asks = await asyncio.gather(
            *(quota.take(store, owner, upload, 300_000) for upload in uploads),
            return_exceptions=True,
        )
        granted = [upload for upload, ask in zip(uploads, asks, strict=True) if ask == 300_000]
        refused = [ask for ask in asks if isinstance(ask, errors.GatewayError)]
        assert len(granted) == 3, asks
        assert [r.code for r in refused] == ["storage_quota_exceeded"] * 2
        assert sorted(await ledger.held(owner)) == sorted(granted)
        assert sum((await ledger.held(owner)).values()) == 900_000
    finally:
        for upload in [f"file-{shared}-{n}" for n in range(5)]:
            with contextlib.suppress(errors.GatewayError):
                await ledger.release(owner, upload)
        await shared_store.aclose()
        await client.close()


class SlowSource:
    """An upload arriving a part at a time, `pause` seconds apart, that notes at each part
    what the ledger holds for its owner."""

    def __init__(self, ledger: quotas.Ledger, owner: str, parts: int, pause: float) -> None:
        self.filename: str | None = "slow.txt"
        self.fields = {"purpose": "assistants"}
        self.ledger, self.owner, self.left, self.pause = ledger, owner, parts, pause
        self.seen: list[dict[str, int]] = []

    async def read(self, size: int) -> bytes:
        self.seen.append(await self.ledger.held(self.owner))
        if not self.left:
            return b""
        self.left -= 1
        await asyncio.sleep(self.pause)
        return b"s" * min(size, 1000)


async def test_a_slow_upload_keeps_its_hold_while_it_streams(
    weaviate_node: weaviate.WeaviateNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload that announced its length holds all of it from the start; as long as its parts
    keep arriving its hold stays live, however long the whole upload takes (here: longer than a
    hold lives unrenewed, shortened for the test)."""
    monkeypatch.setattr(quotas, "STALE_SECONDS", 0.3)
    client = weaviate_client.Client(weaviate_node.url, weaviate.API_KEY, None)
    try:
        store = records.Records(client, replication_factor=1)
        await store.ready()
        ledger = quotas.LocalLedger()
        quota = files.Quota(ledger, max_bytes=1_000_000, max_files=None)
        source = SlowSource(ledger, "slow-owner", parts=4, pause=0.2)
        file = await files.upload(
            store, "slow-owner", source, max_bytes=10_000, quota=quota, announced=4000
        )
        assert file["bytes"] == 4000
        assert [sorted(held.values()) for held in source.seen[1:]] == [[4000]] * 4
        assert await ledger.held("slow-owner") == {}
        await files.delete(store, file)
    finally:
        await client.close()


class WholeSource:
    """An upload whose body is `data`, in one part."""

    def __init__(self, data: bytes) -> None:
        self.filename: str | None = "kept.txt"
        self.fields = {"purpose": "assistants"}
        self.data = data

    async def read(self, size: int) -> bytes:
        data, self.data = self.data[:size], self.data[size:]
        return data


async def test_a_file_whose_record_is_written_is_kept_when_the_shared_store_fails_after(
    weaviate_node: weaviate.WeaviateNode, redis_server: RedisServer
) -> None:
    """The shared store refuses to release the upload's hold (a Redis user without HDEL) after
    the file's record is written: the upload still answers with the file, its content reads
    back whole, and the hold stays until it goes stale (the file counts twice until then:
    early refusals, never more stored than the quota)."""
    admin = redis.asyncio.Redis.from_url(redis_server.url)
    await admin.acl_setuser(
        "no-hdel", enabled=True, passwords=["+no-hdel-password"], keys=["*"], channels=["*"],
        commands=["+@all", "-hdel"],
    )  # fmt: skip
    restricted = redis.asyncio.Redis.from_url(
        redis_server.url, username="no-hdel", password="no-hdel-password"
    )
    ledger = quotas.SharedLedger(restricted)
    client = weaviate_client.Client(weaviate_node.url, weaviate.API_KEY, None)
    try:
        store = records.Records(client, replication_factor=1)
        await store.ready()
        quota = files.Quota(ledger, max_bytes=1_000_000, max_files=None)
        data = bytes(range(256)) * 40
        file = await files.upload(store, "kept-owner", WholeSource(data), max_bytes=100_000,
                                  quota=quota, announced=len(data))  # fmt: skip
        assert await store.get(records.FILES, file["fileId"], "kept-owner") is not None
        assert await files.read_all(store, file) == data
        assert await ledger.held("kept-owner") == {file["fileId"]: len(data)}
        assert await quotas.used(store, ledger, "kept-owner", "another-upload") == (
            2,
            2 * len(data),
        )
        await files.delete(store, file)
    finally:
        await admin.delete(quotas.KEY_PREFIX + "kept-owner")
        await admin.acl_deluser("no-hdel")
        await restricted.aclose()
        await admin.aclose()
        await client.close()
