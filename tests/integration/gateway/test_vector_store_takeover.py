"""An ingestion whose gateway process dies does not stay `in_progress`: the process that
ingests marks the file alive, and once the marks stop, other gateway processes take the file
over and finish it. Two of them race for it here; chunk ids are deterministic, so the file ends
with every chunk exactly once. Real Weaviate, real gateway processes killed with SIGKILL, an
OpenAI-compatible embeddings stand-in slowed down so the kill lands mid-ingestion."""

from __future__ import annotations

import io
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures import weaviate_node as weaviate_node_
from fixtures.upstreams import gateway_process, keys, running
from integration.gateway import vector_stores
from integration.sidecar import weaviate
from runestone_gateway import config
from runestone_gateway.retrieval import chunking

KEY = keys.key("ingester")
MODEL = "emb"
CHUNKING = config.Chunking(max_chunk_size_tokens=100, chunk_overlap_tokens=0)
TEXT = "".join(f"Ledger record {n:04d} notes a parcel for depot {n % 97}.\n" for n in range(2000))


@pytest.fixture
def weaviate_node(tmp_path: Path) -> Iterator[weaviate.WeaviateNode]:
    (tmp_path / "weaviate").mkdir()
    with weaviate_node_.running(tmp_path / "weaviate") as node:
        yield node


@pytest.fixture
def slow_upstream() -> Iterator[running.Upstream]:
    with running.upstream("openai") as upstream:
        upstream.behaviour.delay_seconds = 1.0  # per batch of 64 chunks
        yield upstream


def document(
    node: weaviate.WeaviateNode, upstream: running.Upstream, table: Path
) -> dict[str, Any]:
    model = gateway_process.model(MODEL, "upstream-embedding", kinds=["embedding"])
    return {
        "auth": keys.write_table(table, KEY),
        "providerPools": [
            gateway_process.pool("p", [gateway_process.provider("up", upstream, models=[model])])
        ],
        "vectorStores": {
            "url": node.url,
            "apiKeyFile": str(node.key_file),
            "embeddingModel": MODEL,
            "heartbeatSeconds": 1,
            "sweepSeconds": 0.5,
        },
    }


def stored(node: weaviate.WeaviateNode, file_id: str) -> list[dict[str, Any]]:
    where = f'{{path: ["fileId"], operator: Equal, valueText: "{file_id}"}}'
    status, answer = node.call(
        "POST", "/v1/graphql", {"query": f"{{ Get {{ RunestoneChunk(where: {where}, "
                                         f"limit: 10000) {{ seq text }} }} }}"},
    )  # fmt: skip
    assert status == 200, answer
    found: list[dict[str, Any]] = answer["data"]["Get"]["RunestoneChunk"]
    return sorted(found, key=lambda chunk: int(chunk["seq"]))


def stored_seqs(node: weaviate.WeaviateNode, file_id: str) -> list[int]:
    return [int(chunk["seq"]) for chunk in stored(node, file_id)]


def stored_texts(node: weaviate.WeaviateNode, file_id: str) -> list[str]:
    return [str(chunk["text"]) for chunk in stored(node, file_id)]


def test_a_killed_ingestion_is_taken_over_and_completes_once(
    weaviate_node: weaviate.WeaviateNode,
    slow_upstream: running.Upstream,
    start_gateway: gateway_process.GatewayStarter,
    tmp_path: Path,
) -> None:
    expected = chunking.chunks(TEXT, CHUNKING)
    assert len(expected) > 3 * 64  # several batches: the kill lands between them
    doc = document(weaviate_node, slow_upstream, tmp_path / "keys.yaml")
    doomed = start_gateway(doc)
    sdk = doomed.client(api_key=KEY.plaintext)
    store = sdk.vector_stores.create(name="takeover")
    file = sdk.files.create(file=("ledger.txt", io.BytesIO(TEXT.encode())), purpose="assistants")
    sdk.vector_stores.files.create(
        file_id=file.id, vector_store_id=store.id, attributes={"kind": "ledger"},
        chunking_strategy={"type": "static", "static": {
            "max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}},
    )  # fmt: skip
    gateway_process.eventually(
        lambda: vector_stores.chunk_count(weaviate_node, "fileId", file.id) > 0,
        timeout=60, what="the first chunks written",
    )  # fmt: skip
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait(10)
    cut = vector_stores.chunk_count(weaviate_node, "fileId", file.id)
    assert 0 < cut < len(expected)

    # Two processes start; both sweep, and either (or both) take the file over.
    survivors = [start_gateway(doc), start_gateway(doc)]
    sdk = survivors[0].client(api_key=KEY.plaintext)

    def finished() -> Any:
        found = sdk.vector_stores.files.retrieve(file.id, vector_store_id=store.id)
        return found if found.status != "in_progress" else None

    done = gateway_process.eventually(finished, timeout=120, what="the file taken over")
    assert done.status == "completed", done.last_error
    assert done.attributes == {"kind": "ledger"}
    counts = sdk.vector_stores.retrieve(store.id).file_counts
    assert (counts.completed, counts.in_progress, counts.total) == (1, 0, 1)
    # Racing ingestions write the same objects: each chunk once, none left over.
    assert stored_seqs(weaviate_node, file.id) == list(range(len(expected)))
    assert any("taking over" in process.stderr() for process in survivors)

    # Every chunk holds the text it was cut into, and search finds each once.
    assert stored_texts(weaviate_node, file.id) == expected
    for seq in (0, len(expected) // 2, len(expected) - 1):
        number = re.findall(r"record (\d{4}) ", expected[seq])[1]
        hits = sdk.vector_stores.search(
            store.id, query=number, max_num_results=50,
            filters={"type": "eq", "key": "kind", "value": "ledger"},
            extra_body={"search_mode": "keyword"},
        )  # fmt: skip
        assert [hit.content[0].text for hit in hits.data] == [expected[seq]]
    for process in survivors:
        assert "Ledger record 0042" not in process.stderr()
