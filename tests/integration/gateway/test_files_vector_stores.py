"""Files and vector stores served by a real gateway process from one real Weaviate node, with
the official `openai` SDK as the client: uploads, content, pagination, stores, ingestion polled
to completion, batches, hybrid / vector / keyword search with attribute filters, deletes that
take their chunks along, two keys that never see each other's records, bad and oversized files,
and per-key storage quotas. Embeddings go through the gateway's own route to the mock model."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from fixtures import pdfs
from fixtures import weaviate_node as weaviate_node_
from fixtures.upstreams import gateway_process, keys, raw_http
from integration.sidecar import weaviate

EMBEDDING = "mock-embedding"
OWNER = keys.key("owner")
OTHER = keys.key("other")
NO_EMBEDDING = keys.key("chat-only", models=["mock-chat"])
SMALL_QUOTA = keys.key("small", limits={"maxFiles": 2, "maxStoredBytes": 4000})
MAX_FILE_BYTES = 300_000
ALL_KEYS = (OWNER, OTHER, NO_EMBEDDING, SMALL_QUOTA)

DOCS = {
    "tides.md": "# Tides\n\nThe moon's gravity pulls the oceans and makes the tides rise and fall.",
    "bread.txt": "Sourdough bread rises because wild yeast ferments the dough overnight.",
    "volcano.html": "<html><head><style>p{}</style></head><body><p>Basalt lava flows from "
    "shield volcanoes in Hawaii.</p><script>var hidden = 'zebra';</script></body></html>",
}


@pytest.fixture(scope="module")
def weaviate_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[weaviate.WeaviateNode]:
    with weaviate_node_.running(tmp_path_factory.mktemp("weaviate")) as node:
        yield node


def document(node: weaviate.WeaviateNode, table: Path, **vector_stores: Any) -> dict[str, Any]:
    embedding = gateway_process.model(EMBEDDING, kinds=["embedding"])
    chat = gateway_process.model("mock-chat", kinds=["chat"])
    return {
        "auth": keys.write_table(table, *ALL_KEYS),
        "providerPools": [
            gateway_process.pool("p", [gateway_process.provider("mock", models=[embedding, chat])])
        ],
        "vectorStores": {
            "url": node.url,
            "apiKeyFile": str(node.key_file),
            "embeddingModel": EMBEDDING,
            "chunking": {"maxChunkSizeTokens": 100, "chunkOverlapTokens": 20},
            "maxFileBytes": MAX_FILE_BYTES,
            **vector_stores,
        },
    }


@pytest.fixture(scope="module")
def gateway(
    weaviate_node: weaviate.WeaviateNode,
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> gateway_process.GatewayProcess:
    table = tmp_path_factory.mktemp("keys") / "keys.yaml"
    return module_gateways(document(weaviate_node, table))


def client(gateway: gateway_process.GatewayProcess, key: keys.Key = OWNER) -> openai.OpenAI:
    return gateway.client(api_key=key.plaintext)


def upload(sdk: openai.OpenAI, name: str, content: str | bytes) -> openai.types.FileObject:
    data = content.encode() if isinstance(content, str) else content
    return sdk.files.create(file=(name, io.BytesIO(data)), purpose="assistants")


def chunk_count(node: weaviate.WeaviateNode, prop: str, value: str) -> int:
    where = f'{{path: ["{prop}"], operator: Equal, valueText: "{value}"}}'
    query = f"{{ Aggregate {{ RunestoneChunk(where: {where}) {{ meta {{ count }} }} }} }}"
    status, answer = node.call("POST", "/v1/graphql", {"query": query})
    assert status == 200, answer
    return int(answer["data"]["Aggregate"]["RunestoneChunk"][0]["meta"]["count"])


def test_a_file_is_uploaded_read_listed_and_deleted(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway)
    content = ("line one\nline two\n" * 15_000)[:250_000]  # more than one stored part
    created = upload(sdk, "notes.txt", content)
    assert created.id.startswith("file-")
    assert (created.filename, created.bytes, created.purpose) == (
        "notes.txt",
        250_000,
        "assistants",
    )
    assert created.status == "processed"
    assert sdk.files.retrieve(created.id) == created
    assert sdk.files.content(created.id).content == content.encode()
    sdk.files.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.files.content(created.id)


def test_files_are_listed_newest_first_in_pages(gateway: gateway_process.GatewayProcess) -> None:
    sdk = client(gateway, OTHER)
    made = [upload(sdk, f"page-{n}.txt", f"page {n}").id for n in range(5)]
    first = sdk.files.list(limit=2)
    assert [f.id for f in first.data] == made[::-1][:2]
    assert first.has_more
    everything = [f.id for f in sdk.files.list(limit=2, order="asc")]  # the SDK pages on
    assert [i for i in everything if i in made] == made
    for file_id in made:
        sdk.files.delete(file_id)


def test_upload_and_poll_then_search_hybrid_vector_and_keyword(
    gateway: gateway_process.GatewayProcess, weaviate_node: weaviate.WeaviateNode
) -> None:
    sdk = client(gateway)
    store = sdk.vector_stores.create(name="science", metadata={"team": "docs"})
    assert store.id.startswith("vs_")
    assert store.object == "vector_store"
    assert (store.name, store.metadata, store.status) == ("science", {"team": "docs"}, "completed")
    years = {"tides.md": 2021, "bread.txt": 2023, "volcano.html": 2024}
    for name, text in DOCS.items():
        attached = sdk.vector_stores.files.upload_and_poll(
            vector_store_id=store.id,
            file=(name, io.BytesIO(text.encode())),
            attributes={"year": years[name], "kind": name.rsplit(".", 1)[1], "public": True},
        )
        assert attached.status == "completed", attached.last_error
        assert attached.usage_bytes > 0
        assert attached.attributes == {"year": years[name], "kind": name.rsplit(".", 1)[1],
                                       "public": True}  # fmt: skip
    again = sdk.vector_stores.retrieve(store.id)
    assert again.file_counts.completed == 3
    assert again.file_counts.total == 3
    assert again.usage_bytes > 0

    # The mock model's vectors carry no meaning, so the hybrid ranking (mostly the vector's) is
    # not judged here: test_retrieval_quality does that with the real model.
    hits = sdk.vector_stores.search(store.id, query="why does sourdough bread rise")
    bread = next(hit for hit in hits.data if hit.filename == "bread.txt")
    assert "wild yeast" in bread.content[0].text
    assert bread.attributes == {"year": 2023, "kind": "txt", "public": True}
    assert all(0 < hit.score <= 1 for hit in hits.data)

    keyword = sdk.vector_stores.search(
        store.id, query="basalt lava", extra_body={"search_mode": "keyword"}
    )
    assert [hit.filename for hit in keyword.data] == ["volcano.html"]
    assert "zebra" not in keyword.data[0].content[0].text  # scripts are not text

    exact = DOCS["tides.md"].split("\n\n")[1]
    vector = sdk.vector_stores.search(
        store.id, query="# Tides\n\n" + exact, extra_body={"search_mode": "vector"}
    )
    assert vector.data[0].filename == "tides.md"

    newer = sdk.vector_stores.search(
        store.id, query="lava bread tides", filters={"type": "gte", "key": "year", "value": 2023}
    )
    assert {hit.filename for hit in newer.data} == {"bread.txt", "volcano.html"}
    chosen = sdk.vector_stores.search(
        store.id,
        query="lava bread tides",
        filters={
            "type": "or",
            "filters": [
                {"type": "eq", "key": "kind", "value": "md"},
                {"type": "and", "filters": [
                    {"type": "in", "key": "kind", "value": ["txt", "html"]},
                    {"type": "lt", "key": "year", "value": 2024},
                ]},
            ],
        },
    )  # fmt: skip
    assert {hit.filename for hit in chosen.data} == {"tides.md", "bread.txt"}
    excluded = sdk.vector_stores.search(
        store.id, query="lava bread tides", filters={"type": "nin", "key": "kind", "value": ["md"]}
    )
    assert {hit.filename for hit in excluded.data} == {"bread.txt", "volcano.html"}
    unknown = sdk.vector_stores.search(
        store.id, query="lava", filters={"type": "eq", "key": "missing", "value": "x"}
    )
    assert unknown.data == []
    strict = sdk.vector_stores.search(
        store.id, query="lava bread tides", ranking_options={"score_threshold": 1.0}
    )
    assert all(hit.score >= 1.0 for hit in strict.data)
    several = sdk.vector_stores.search(store.id, query=["sourdough", "basalt"], max_num_results=2)
    assert {hit.filename for hit in several.data} == {"bread.txt", "volcano.html"}

    # The embeddings were asked through the gateway's own route, charged to the key.
    embeddings = {"runestone_key_id": OWNER.id, "gen_ai_operation_name": "embeddings"}
    assert gateway.metric("runestone_gateway_requests_total", **embeddings) >= 4
    searches = {"runestone_key_id": OWNER.id, "gen_ai_operation_name": "vector_stores"}
    assert gateway.metric("runestone_gateway_requests_total", **searches) >= 10

    listed = sdk.vector_stores.files.list(store.id, limit=2)
    assert len(listed.data) == 2
    assert listed.has_more
    assert len(list(sdk.vector_stores.files.list(store.id, limit=2))) == 3
    target = next(f for f in sdk.files.list() if f.filename == "bread.txt")
    sdk.vector_stores.files.delete(file_id=target.id, vector_store_id=store.id)
    assert sdk.vector_stores.retrieve(store.id).file_counts.total == 2
    assert chunk_count(weaviate_node, "fileId", target.id) == 0
    assert chunk_count(weaviate_node, "storeId", store.id) > 0
    sdk.vector_stores.delete(store.id)
    assert chunk_count(weaviate_node, "storeId", store.id) == 0
    with pytest.raises(openai.NotFoundError):
        sdk.vector_stores.retrieve(store.id)


def test_file_batches_upload_and_poll_and_list_their_files(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway)
    store = sdk.vector_stores.create(name="batch")
    early = upload(sdk, "early.txt", "Comets have icy nuclei and long tails.")
    batch = sdk.vector_stores.file_batches.upload_and_poll(
        store.id,
        files=[(name, io.BytesIO(text.encode())) for name, text in DOCS.items()],
        file_ids=[early.id],
    )
    assert batch.id.startswith("vsfb_")
    assert batch.object == "vector_store.files_batch"
    assert batch.status == "completed"
    assert (batch.file_counts.completed, batch.file_counts.total) == (4, 4)
    listed = sdk.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    assert len(listed.data) == 4
    assert {f.status for f in listed.data} == {"completed"}
    assert sdk.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id) == batch
    hits = sdk.vector_stores.search(
        store.id, query="icy comets", extra_body={"search_mode": "keyword"}
    )
    assert [hit.filename for hit in hits.data] == ["early.txt"]
    # A finished batch stays as it is when cancelled.
    cancelled = sdk.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.status == "completed"
    sdk.vector_stores.delete(store.id)


def test_attaching_a_file_twice_ingests_it_once(
    gateway: gateway_process.GatewayProcess, weaviate_node: weaviate.WeaviateNode
) -> None:
    sdk = client(gateway)
    store = sdk.vector_stores.create(name="twice")
    file = upload(sdk, "twice.txt", "Otters hold hands while they sleep. " * 40)
    first = sdk.vector_stores.files.create_and_poll(
        file_id=file.id, vector_store_id=store.id, chunking_strategy={
            "type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0},
        },
    )  # fmt: skip
    assert first.status == "completed"
    assert first.chunking_strategy is not None
    assert first.chunking_strategy.static.max_chunk_size_tokens == 100  # type: ignore[union-attr]
    chunks = chunk_count(weaviate_node, "fileId", file.id)
    assert chunks == 3  # 320 tokens in windows of 100
    again = sdk.vector_stores.files.create(file_id=file.id, vector_store_id=store.id)
    assert again.status == "completed"
    assert again.created_at == first.created_at
    assert chunk_count(weaviate_node, "fileId", file.id) == chunks
    assert sdk.vector_stores.retrieve(store.id).file_counts.total == 1
    sdk.files.delete(file.id)  # deleting the file takes its chunks out of every store
    assert chunk_count(weaviate_node, "fileId", file.id) == 0
    assert sdk.vector_stores.retrieve(store.id).file_counts.total == 0
    sdk.vector_stores.delete(store.id)


def test_another_key_never_sees_a_keys_files_and_stores(
    gateway: gateway_process.GatewayProcess,
) -> None:
    owner, other = client(gateway), client(gateway, OTHER)
    file = upload(owner, "private.txt", "The vault code is hidden in the lighthouse.")
    store = owner.vector_stores.create(name="private", file_ids=[file.id])
    for call in (
        lambda: other.files.retrieve(file.id),
        lambda: other.files.content(file.id),
        lambda: other.files.delete(file.id),
        lambda: other.vector_stores.retrieve(store.id),
        lambda: other.vector_stores.update(store.id, name="mine"),
        lambda: other.vector_stores.delete(store.id),
        lambda: other.vector_stores.search(store.id, query="vault"),
        lambda: other.vector_stores.files.list(store.id),
        lambda: other.vector_stores.files.retrieve(file_id=file.id, vector_store_id=store.id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert file.id not in {f.id for f in other.files.list()}
    assert store.id not in {s.id for s in other.vector_stores.list()}
    own_store = other.vector_stores.create(name="theirs")
    with pytest.raises(openai.NotFoundError):  # nor can it attach the owner's file
        other.vector_stores.files.create(file_id=file.id, vector_store_id=own_store.id)
    with pytest.raises(openai.NotFoundError):
        other.vector_stores.create(name="sneaky", file_ids=[file.id])
    # The owner still has everything.
    assert owner.files.retrieve(file.id).id == file.id
    assert owner.vector_stores.retrieve(store.id).name == "private"
    other.vector_stores.delete(own_store.id)
    owner.vector_stores.delete(store.id)
    owner.files.delete(file.id)


def test_bad_files_fail_alone_with_a_clear_last_error(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway)
    store = sdk.vector_stores.create(name="mixed")
    image = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("photo.png", io.BytesIO(b"\x89PNG\r\n\x1a\n...."))
    )
    assert image.status == "failed"
    assert image.last_error is not None
    assert image.last_error.code == "unsupported_file"
    broken = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("paper.pdf", io.BytesIO(pdfs.document("x" * 40)[:120]))
    )
    assert broken.status == "failed"
    assert broken.last_error is not None
    assert broken.last_error.code == "invalid_file"
    good = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id,
        file=("paper2.pdf", io.BytesIO(pdfs.document("Narwhals have one long tusk."))),
    )
    assert good.status == "completed", good.last_error
    counts = sdk.vector_stores.retrieve(store.id).file_counts
    assert (counts.completed, counts.failed, counts.total) == (1, 2, 3)
    assert sdk.vector_stores.search(store.id, query="narwhal tusk").data[0].filename == "paper2.pdf"
    failed = sdk.vector_stores.files.list(store.id, filter="failed")
    assert len(failed.data) == 2
    assert gateway.health("/readyz").status_code == 200
    sdk.vector_stores.delete(store.id)


def test_an_oversized_upload_is_refused_and_leaves_nothing(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway, OTHER)
    before = {f.id for f in sdk.files.list()}
    with pytest.raises(openai.APIStatusError) as refused:
        upload(sdk, "big.txt", b"x" * (MAX_FILE_BYTES + 1))
    assert refused.value.status_code == 413
    assert {f.id for f in sdk.files.list()} == before
    assert upload(sdk, "fits.txt", b"x" * MAX_FILE_BYTES).bytes == MAX_FILE_BYTES


def test_storage_quotas_are_refused_with_a_clear_error(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway, SMALL_QUOTA)
    with pytest.raises(openai.PermissionDeniedError) as too_big:
        upload(sdk, "large.txt", b"y" * 4001)
    assert too_big.value.code == "storage_quota_exceeded"
    assert "maxStoredBytes" in too_big.value.message
    first = upload(sdk, "one.txt", b"a" * 3000)
    with pytest.raises(openai.PermissionDeniedError):
        upload(sdk, "two.txt", b"b" * 1001)  # 4001 bytes in all
    upload(sdk, "two.txt", b"b" * 1000)
    with pytest.raises(openai.PermissionDeniedError) as too_many:
        upload(sdk, "three.txt", b"c")
    assert "maxFiles" in too_many.value.message
    sdk.files.delete(first.id)  # deleting frees the room
    upload(sdk, "three.txt", b"c")


def test_the_embedding_model_must_be_allowed_for_the_key(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway, NO_EMBEDDING)
    file = upload(sdk, "allowed.txt", "Uploading needs no model.")
    store = sdk.vector_stores.create(name="no-embedding")
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk.vector_stores.files.create(file_id=file.id, vector_store_id=store.id)
    assert refused.value.code == "model_not_allowed"
    with pytest.raises(openai.PermissionDeniedError):
        sdk.vector_stores.search(store.id, query="anything")
    keyword = sdk.vector_stores.search(
        store.id, query="anything", extra_body={"search_mode": "keyword"}
    )
    assert keyword.data == []  # BM25 alone embeds nothing


def test_bad_requests_are_answered_in_openais_envelope(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway)
    store = sdk.vector_stores.create(name="checks")
    with pytest.raises(openai.BadRequestError) as too_many:
        sdk.vector_stores.search(store.id, query="x", max_num_results=51)
    assert too_many.value.param == "max_num_results"
    with pytest.raises(openai.BadRequestError) as bad_filter:
        sdk.vector_stores.search(store.id, query="x", extra_body={"filters": {"type": "like"}})
    assert bad_filter.value.param == "filters"
    with pytest.raises(openai.BadRequestError) as overlap:
        sdk.vector_stores.create(
            name="bad", chunking_strategy={"type": "static", "static": {
                "max_chunk_size_tokens": 200, "chunk_overlap_tokens": 150}},
        )  # fmt: skip
    assert "half" in overlap.value.message
    with pytest.raises(openai.BadRequestError) as purpose:
        sdk.files.create(file=("a.txt", io.BytesIO(b"a")), purpose="fine-tune")
    assert purpose.value.param == "purpose"
    raw = httpx.get(
        f"{gateway.base_url}/vector_stores/{store.id}/nothing",
        headers={"authorization": f"Bearer {OWNER.plaintext}"},
    )
    assert raw.status_code == 404
    assert raw.json()["error"]["type"] == "not_found_error"
    assert raw.headers["x-request-id"]
    unauthenticated = httpx.get(f"{gateway.base_url}/files")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "invalid_api_key"
    sdk.vector_stores.delete(store.id)


def test_another_replica_serves_what_one_stored_and_no_text_is_logged(
    gateway: gateway_process.GatewayProcess,
    module_gateways: gateway_process.GatewayStarter,
    weaviate_node: weaviate.WeaviateNode,
    tmp_path: Path,
) -> None:
    secret_text = "Marmalade recipe: bitter Seville oranges simmered slowly."
    sdk = client(gateway)
    file = upload(sdk, "recipe.txt", secret_text)
    store = sdk.vector_stores.create(name="shared", file_ids=[file.id])
    deadline = time.monotonic() + 60
    while sdk.vector_stores.retrieve(store.id).status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    replica = module_gateways(document(weaviate_node, tmp_path / "keys.yaml"))
    other = client(replica)
    assert other.files.content(file.id).content == secret_text.encode()
    assert other.vector_stores.search(store.id, query="seville oranges").data[0].file_id == file.id
    for process in (gateway, replica):
        assert "Seville" not in process.stderr()
        assert not any("Seville" in line for line in process.stdout_lines)
    sdk.vector_stores.delete(store.id)
    sdk.files.delete(file.id)


def test_without_a_vector_store_the_endpoints_say_what_to_configure(
    start_gateway: gateway_process.GatewayStarter,
) -> None:
    bare = start_gateway({"providerPools": [gateway_process.pool("p", [
        gateway_process.provider("mock", models=[gateway_process.model("m")])])]})  # fmt: skip
    sdk = bare.client()
    for call in (
        lambda: sdk.files.list(),
        lambda: sdk.vector_stores.create(name="x"),
        lambda: sdk.vector_stores.search("vs_x", query="q"),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            call()
        assert refused.value.code == "vector_stores_not_configured"
        assert "vectorStores" in refused.value.message


def part_count(node: weaviate.WeaviateNode) -> int:
    status, answer = node.call(
        "POST", "/v1/graphql", {"query": "{ Aggregate { RunestoneFilePart { meta { count } } } }"}
    )
    assert status == 200, answer
    return int(answer["data"]["Aggregate"]["RunestoneFilePart"][0]["meta"]["count"])


def multipart_head(boundary: str, filename: str) -> bytes:
    """An upload's form up to its file's bytes (`purpose` first, then the file's part)."""
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
        f"assistants\r\n--{boundary}\r\nContent-Disposition: form-data; "
        f'name="file"; filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'
    ).encode()


def test_an_upload_is_stored_while_it_arrives(
    gateway: gateway_process.GatewayProcess, weaviate_node: weaviate.WeaviateNode
) -> None:
    """The first parts are in Weaviate before the client has sent the rest of the file."""
    boundary = "runestone-test-boundary"
    piece, rest = b"z" * 200_000, b"r" * 80_000  # a stored part is 192 KiB
    client(gateway, OTHER).files.list()  # the collections exist from the first request on
    before = part_count(weaviate_node)
    seen_while_sending: list[int] = []

    def body() -> Iterator[bytes]:
        yield multipart_head(boundary, "slow.txt")
        yield piece
        # Nothing more is sent until the gateway has stored what it has.
        seen_while_sending.append(
            gateway_process.eventually(
                lambda: part_count(weaviate_node) - before or None, what="a stored part"
            )
        )
        yield rest
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = httpx.post(
        f"{gateway.base_url}/files",
        content=body(),
        headers={
            "authorization": f"Bearer {OTHER.plaintext}",
            "content-type": f"multipart/form-data; boundary={boundary}",
        },
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["bytes"] == 280_000
    assert seen_while_sending[0] >= 1
    file_id = answer.json()["id"]
    assert client(gateway, OTHER).files.content(file_id).content == piece + rest
    client(gateway, OTHER).files.delete(file_id)
    assert part_count(weaviate_node) == before


def test_stores_are_modified_listed_in_pages_and_say_when_they_expire(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway, OTHER)
    made = [sdk.vector_stores.create(name=f"s{n}").id for n in range(3)]
    page = sdk.vector_stores.list(limit=2)
    assert [s.id for s in page.data] == made[::-1][:2]
    assert page.has_more
    assert [s.id for s in sdk.vector_stores.list(limit=1, order="asc") if s.id in made] == made
    changed = sdk.vector_stores.update(
        made[0],
        name="renamed",
        metadata={"owner": "docs"},
        expires_after={"anchor": "last_active_at", "days": 7},
    )
    assert (changed.name, changed.metadata) == ("renamed", {"owner": "docs"})
    assert changed.expires_after is not None
    assert changed.expires_after.days == 7
    assert changed.expires_at == changed.last_active_at + 7 * 86400  # type: ignore[operator]
    assert sdk.vector_stores.retrieve(made[0]).name == "renamed"
    cleared = sdk.vector_stores.update(made[0], expires_after=None)
    assert cleared.expires_at is None
    for store_id in made:
        assert sdk.vector_stores.delete(store_id).deleted


def test_the_openapi_document_describes_the_endpoints(
    gateway: gateway_process.GatewayProcess,
) -> None:
    answer = httpx.get(
        f"{gateway.base_url}/vector_stores/openapi.json",
        headers={"authorization": f"Bearer {OWNER.plaintext}"},
    )
    assert answer.status_code == 200
    paths = answer.json()["paths"]
    assert "/v1/vector_stores/{store_id}/search" in paths
    upload_form = paths["/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload_form["schema"]["required"] == ["file", "purpose"]


def test_an_upload_that_stalls_is_answered_408_and_leaves_nothing(
    weaviate_node: weaviate.WeaviateNode,
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Uploads stream into storage rather than through the request-body intake, yet keep its
    deadline: an upload from which nothing more arrives is cut, and what it stored goes."""
    deadline = 2
    table = tmp_path_factory.mktemp("keys") / "keys.yaml"
    gateway = module_gateways(
        {**document(weaviate_node, table), "server": {"bodyTimeoutSeconds": deadline}}
    )
    client(gateway, OTHER).files.list()  # the collections exist from the first request on
    before = part_count(weaviate_node)
    boundary = "runestone-stall"
    sent = multipart_head(boundary, "stalled.txt") + b"s" * 200_000  # more than one stored part
    with raw_http.connect(gateway.port, OTHER.plaintext) as connection:
        request = connection.post(
            b"/v1/files",
            b"",
            b"content-type: multipart/form-data; boundary=" + boundary.encode(),
            b"content-length: %d" % (len(sent) + 100_000),
        )
        started = time.monotonic()
        connection.send(request + sent)
        answer = connection.answer()
        waited = time.monotonic() - started
        assert answer.status == 408, answer.body
        assert answer.envelope()["code"] == "request_timeout"
        assert answer.headers[b"connection"] == b"close"
        assert connection.closed_within(5)
    assert deadline - 0.5 <= waited <= deadline + 5
    assert gateway.metric("runestone_gateway_request_body_rejections_total", reason="stalled") == 1
    gateway_process.eventually(
        lambda: part_count(weaviate_node) == before, what="the stored parts removed"
    )
    assert not [
        file for file in client(gateway, OTHER).files.list() if file.filename == "stalled.txt"
    ]
