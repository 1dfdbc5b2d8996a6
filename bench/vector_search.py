"""The vector-store search the benchmarks measure (bench/retrieval.py, and the `search` cell of
bench/gateway_overhead.py): one real Weaviate node on loopback, the gateway config that keeps
its stores there, generated documents ingested through the gateway, and the two requests
compared: the GraphQL hybrid query the gateway sends (built by the gateway's own code), posted
to the node with the query's vector in hand, and `POST /v1/vector_stores/{id}/search`."""

from __future__ import annotations

import io
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

import loadgen

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent / "tests"), str(BENCH.parent / "devcluster")]

from fixtures import weaviate_node  # noqa: E402
from integration.sidecar import weaviate  # noqa: E402
from runestone_gateway.retrieval import records, search  # noqa: E402

MOCK_MODEL = "mock-embedding"
MOCK_PROVIDER: dict[str, Any] = {
    "name": "mock",
    "type": "mock",
    "models": [{"name": MOCK_MODEL, "kinds": ["embedding"]}],
}
"""The gateway's built-in mock embedding model (in process, a few microseconds)."""
QUERY = "which river carries the spring floods past the old mill"
RESULTS = 5
"""Results a search asks for (`max_num_results`)."""
WORDS = (
    "river",
    "mill",
    "flood",
    "spring",
    "harbour",
    "granite",
    "lantern",
    "orchard",
    "signal",
    "copper",
    "bridge",
    "valley",
    "engine",
    "winter",
    "ledger",
    "market",
    "tower",
    "canal",
    "meadow",
    "archive",
    "beacon",
    "quarry",
    "island",
    "forest",
    "station",
    "garden",
    "harvest",
    "compass",
    "thunder",
    "mirror",
    "pasture",
    "summit",
    "village",
    "anchor",
    "glacier",
)


def documents(count: int, rng: random.Random) -> list[tuple[str, str]]:
    """`count` documents of about 1,500 words, each with a sentence of its own."""
    out = []
    for n in range(count):
        words = [rng.choice(WORDS) for _ in range(1500)]
        text = f"Document {n} records that stone {n} sits by the {rng.choice(WORDS)}. "
        out.append((f"doc-{n:03d}.txt", text + " ".join(words)))
    return out


node = weaviate_node.running
"""A Weaviate node (the pinned build the tests use), ready, stopped on the way out: the tests'
own fixture (started again on other ports if it exits before it is ready)."""


def vector_stores(started: weaviate.WeaviateNode, embedding_model: str) -> dict[str, str]:
    """The gateway config's `vectorStores` section: stores in `started`, chunks and queries
    embedded with `embedding_model`."""
    return {
        "url": started.url,
        "apiKeyFile": str(started.key_file),
        "embeddingModel": embedding_model,
    }


def chunk_count(started: weaviate.WeaviateNode, store_id: str) -> int:
    where = f'{{path: ["storeId"], operator: Equal, valueText: "{store_id}"}}'
    query = f"{{ Aggregate {{ {records.CHUNKS}(where: {where}) {{ meta {{ count }} }} }} }}"
    status, answer = started.call("POST", "/v1/graphql", {"query": query})
    assert status == 200, answer
    return int(answer["data"]["Aggregate"][records.CHUNKS][0]["meta"]["count"])


def ingest(port: int, key: str, started: weaviate.WeaviateNode, count: int) -> str:
    """Upload `count` documents with the official SDK through the gateway at `port` (as the
    owner of `key`) and attach them in one file batch; the store's id. Prints the figures."""
    sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
    docs = documents(count, random.Random(7))
    began = time.perf_counter()
    ids = [
        sdk.files.create(file=(name, io.BytesIO(text.encode())), purpose="assistants").id
        for name, text in docs
    ]
    uploaded = time.perf_counter() - began
    store = sdk.vector_stores.create(name="bench")
    began = time.perf_counter()
    batch = sdk.vector_stores.file_batches.create_and_poll(
        store.id, file_ids=ids, poll_interval_ms=100
    )
    took = time.perf_counter() - began
    chunks = chunk_count(started, store.id)
    total = sum(len(text.encode()) for _, text in docs)
    lines = [
        f"  {count} documents, {total / 1e6:.2f} MB: uploaded in {uploaded:.2f} s "
        f"({count / uploaded:.1f} files/s)",
        f"  batch {batch.status} ({batch.file_counts.completed} completed, "
        f"{batch.file_counts.failed} failed) in {took:.2f} s: {chunks} chunks, "
        f"{chunks / took:.1f} chunks/s",
    ]
    print("\n".join(lines), flush=True)
    return store.id


@dataclass(frozen=True)
class Request:
    """One request measured: where it goes and what it carries."""

    port: int
    path: str
    body: dict[str, Any]
    key: str

    def raw(self) -> bytes:
        return loadgen.request(self.endpoint("raw"), "127.0.0.1", self.port, "", self.key, False)

    def send(self) -> Any:
        url = f"http://127.0.0.1:{self.port}{self.path}"
        headers = {"authorization": f"Bearer {self.key}"}
        answer = httpx.post(url, json=self.body, headers=headers, timeout=60)
        answer.raise_for_status()
        return answer.json()

    def endpoint(self, name: str) -> loadgen.Endpoint:
        """This request as an API bench/loadgen.py drives (answered whole: no stream events)."""
        return loadgen.Endpoint(name, self.path, lambda _model: dict(self.body), b"", b"")


def requests(
    gateway_port: int, key: str, started: weaviate.WeaviateNode, store_id: str, model: str
) -> dict[str, Request]:
    """The requests measured: `direct` (the gateway's query, to the node), `gateway` (the
    search through the gateway) and `embed` (the query's embedding through the gateway)."""
    embed = Request(gateway_port, "/v1/embeddings", {"model": model, "input": QUERY}, key)
    vector = embed.send()["data"][0]["embedding"]
    where = records.equal("storeId", store_id)
    # As the gateway asks: one result more than the page, to tell whether another follows.
    graphql = search.query(records.CHUNKS, QUERY, vector, "hybrid", where, RESULTS + 1)
    node_key = started.key_file.read_text().strip()
    return {
        "direct": Request(started.port, "/v1/graphql", {"query": graphql}, node_key),
        "gateway": Request(
            gateway_port,
            f"/v1/vector_stores/{store_id}/search",
            {"query": QUERY, "max_num_results": RESULTS},
            key,
        ),
        "embed": embed,
    }


def check_same_answer(measured: dict[str, Request]) -> None:
    """The direct query and the gateway's search find the same chunks (so they do the same
    search work)."""
    hits = measured["direct"].send()["data"]["Get"][records.CHUNKS]
    direct = [hit["text"] for hit in hits[:RESULTS]]
    through = [result["content"][0]["text"] for result in measured["gateway"].send()["data"]]
    if direct != through:
        print("  warning: the direct query and the gateway's search found different chunks")
