"""Chunks of another embedding size in the VectorCluster (the store's earlier embedding model,
or another Gateway's on the same cluster): ingestion fails the file and search answers an
error, each saying both sizes and what to change, at once (asking Weaviate again cannot help),
instead of a 503 to retry forever. Real Weaviate, a real gateway process, the `openai` SDK."""

from __future__ import annotations

import httpx

from fixtures.upstreams import gateway_process
from integration.gateway import vector_stores
from integration.sidecar import weaviate
from runestone_gateway.providers import mock
from runestone_gateway.retrieval import ingest

weaviate_node = vector_stores.weaviate_node  # a node of its own: its chunk index gets 4 dimensions
gateway = vector_stores.gateway
SIZES = (
    "keeps 4-dimensional vectors, but this gateway's embedding model gives "
    f"{mock.DEFAULT_DIMENSIONS}-dimensional ones"
)


def test_chunks_of_another_size_fail_ingestion_and_search_saying_what_to_change(
    gateway: gateway_process.GatewayProcess, weaviate_node: weaviate.WeaviateNode
) -> None:
    sdk = vector_stores.client(gateway)
    store = sdk.vector_stores.create(name="older-model")
    older = ingest.chunk_object(
        store.id, {"fileId": "file-older", "filename": "older.txt"}, 0, "mills", [0.5] * 4, {}
    )
    status, answer = weaviate_node.call("POST", "/v1/objects", older)
    assert status == 200, answer

    uploaded = vector_stores.upload(sdk, "newer.txt", "Rivers turn the mill wheels. " * 20)
    attached = sdk.vector_stores.files.create_and_poll(
        file_id=uploaded.id, vector_store_id=store.id, poll_interval_ms=100
    )
    assert attached.status == "failed"
    assert attached.last_error is not None
    assert attached.last_error.code == "server_error"
    assert SIZES in attached.last_error.message
    assert "another VectorCluster" in attached.last_error.message

    answer = httpx.post(
        f"{gateway.base_url}/vector_stores/{store.id}/search",
        json={"query": "mill wheels"},
        headers={"authorization": f"Bearer {vector_stores.OWNER.plaintext}"},
        timeout=30,
    )
    assert answer.status_code == 500, answer.text
    error = answer.json()["error"]
    assert error["type"] == "server_error"
    assert error["code"] == "embedding_dimensions_mismatch"
    assert SIZES in error["message"]
    assert "retry-after" not in answer.headers
