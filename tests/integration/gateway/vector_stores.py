"""What the gateway's file and vector-store tests share: one real Weaviate node per test module,
a real gateway process serving files and vector stores from it (embeddings through the gateway's
own route to the mock model, four keys), a few documents, the official `openai` SDK as the
client, and counts of what Weaviate holds."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

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
Refusal = TypeVar("Refusal", bound=openai.APIStatusError)

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


def gateway_fixture(**vector_stores: Any) -> object:
    """A module-scoped `gateway` fixture: a gateway process serving the module's Weaviate node,
    `vector_stores` added to its `vectorStores` settings. A test module names the one it uses
    (`gateway = vector_stores.gateway`, or one of its own from this function)."""

    @pytest.fixture(scope="module")
    def gateway(
        weaviate_node: weaviate.WeaviateNode,
        module_gateways: gateway_process.GatewayStarter,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> gateway_process.GatewayProcess:
        table = tmp_path_factory.mktemp("keys") / "keys.yaml"
        return module_gateways(document(weaviate_node, table, **vector_stores))

    return gateway


gateway = gateway_fixture()


def client(gateway: gateway_process.GatewayProcess, key: keys.Key = OWNER) -> openai.OpenAI:
    return gateway.client(api_key=key.plaintext)


def upload(sdk: openai.OpenAI, name: str, content: str | bytes) -> openai.types.FileObject:
    data = content.encode() if isinstance(content, str) else content
    return sdk.files.create(file=(name, io.BytesIO(data)), purpose="assistants")


def attached(sdk: openai.OpenAI, store_id: str, name: str, text: str, **attributes: Any) -> str:
    """The id of a file uploaded into the store, once its ingestion completed."""
    done = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store_id, file=(name, io.BytesIO(text.encode())), attributes=attributes
    )
    assert done.status == "completed", done.last_error
    return done.id


def refusal(call: Callable[[], object], kind: type[Refusal]) -> Refusal:
    """The error of `kind` the call raises (the test fails when it raises none)."""
    with pytest.raises(kind) as refused:
        call()
    return refused.value


def store_file_calls(
    sdk: openai.OpenAI, store_id: str, file_id: str, attributes: dict[str, str | float | bool]
) -> tuple[Callable[[], object], Callable[[], object]]:
    """A store file's own two paths called: its attributes updated, its content read."""
    return (
        lambda: sdk.vector_stores.files.update(
            file_id, vector_store_id=store_id, attributes=attributes
        ),
        lambda: sdk.vector_stores.files.content(file_id, vector_store_id=store_id),
    )


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
