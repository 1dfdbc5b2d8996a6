"""Vector stores served by a real gateway process from one real Weaviate node, with the official
`openai` SDK as the client: stores, ingestion polled to completion, batches, hybrid / vector /
keyword search with attribute filters, deletes that take their chunks along, a file attached
twice, and stores modified, listed in pages and expiring. Embeddings go through the gateway's own
route to the mock model."""

from __future__ import annotations

import io

import openai
import pytest

from fixtures.upstreams import gateway_process
from integration.gateway import vector_stores
from integration.gateway.vector_stores import DOCS, OTHER, OWNER, chunk_count, client, upload
from integration.sidecar import weaviate

# One Weaviate node for the module and one gateway process serving from it:
weaviate_node, gateway = vector_stores.weaviate_node, vector_stores.gateway


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
