"""What the gateway's file and vector-store tests share: one real Weaviate node per test module,
a real gateway process serving files and vector stores from it (embeddings through the gateway's
own route to the mock model, four keys), a few documents, the official `openai` SDK as the
client, and counts of what Weaviate holds."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from fixtures import weaviate_node as weaviate_node_
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


@pytest.fixture(scope="module")
def weaviate_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[weaviate.WeaviateNode]:
    """One Weaviate node for each test module that names this fixture
    (`weaviate_node = vector_stores.weaviate_node`)."""
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
    """A gateway process serving the module's Weaviate node, for the module's tests."""
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
