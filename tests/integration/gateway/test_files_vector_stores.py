"""Files and vector stores served by a real gateway process from one real Weaviate node, with
the official `openai` SDK as the client: uploads, content, pagination, stores, ingestion polled
to completion, batches, hybrid / vector / keyword search with attribute filters, deletes that
take their chunks along, two keys that never see each other's records, bad and oversized files,
and per-key storage quotas. Embeddings go through the gateway's own route to the mock model."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from fixtures.upstreams import gateway_process, keys
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


def wait_ready(node: weaviate.WeaviateNode) -> None:
    def ready() -> bool:
        try:
            return httpx.get(f"{node.url}/v1/.well-known/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    gateway_process.eventually(ready, timeout=120, what="weaviate to be ready")


@pytest.fixture(scope="module")
def weaviate_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[weaviate.WeaviateNode]:
    node = weaviate.WeaviateNode(tmp_path_factory.mktemp("weaviate"), hostname="node0")
    try:
        wait_ready(node)
        yield node
    finally:
        node.stop()
        print(f"--- weaviate log (tail):\n{node.log()}")


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

    hits = sdk.vector_stores.search(store.id, query="why does sourdough bread rise")
    assert hits.data[0].filename == "bread.txt"
    assert "wild yeast" in hits.data[0].content[0].text
    assert hits.data[0].attributes == {"year": 2023, "kind": "txt", "public": True}
    assert 0 < hits.data[0].score <= 1

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
