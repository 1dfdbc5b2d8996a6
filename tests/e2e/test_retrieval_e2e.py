"""The old RAG API's workflow, end to end on the local cluster with a real embedding model. Beside
the quickstart, in its namespace and with kubectl: a ProviderPool whose OpenAI-compatible
provider is a model server on this host, the real all-MiniLM-L6-v2 as `minilm`
(`fixtures.upstreams.embedding_server`); a VectorCluster of one member; and a Gateway serving that
pool and the quickstart's mock pool, whose vector stores live in that cluster with
`embeddingModel: minilm`. Once the Gateway is ready, `VectorStoreReady` and its pod serves
`minilm`, the official `openai` SDK, with the key the operator issued, uploads the labelled
corpus of `fixtures.corpus` (26 documents, six formats), asks every question with
`vector_stores.search`, prints the hit rates at 1 and at 5 per search mode and holds them to
floors; a few questions go to the quickstart's mock chat model through `responses.create` with
the `file_search` tool, whose citation must name the file that answers them (the mock searches
for the question and cites the first result, as a model would).

Why not the quickstart's VectorCluster `docs`: it already holds chunks embedded by the
quickstart's `mock-embedding` (16 dimensions; the demo's retrieval script in
test_quickstart_e2e.py), and Weaviate keeps one vector index per collection, which refuses
vectors of another length (`minilm` has 384). One embedding model per VectorCluster, today.

The model server listens on `processes.HOST_FOR_PODS`, where the gateway's pod reaches this host
(the process kubelet makes 127.0.0.1 in a pod's settings mean the pod itself); the gateway
reaches its VectorCluster's client Service through the process kubelet's Service proxy."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import openai
import pytest
import yaml

from devcluster import install, processes
from e2e.installed import Quickstart
from fixtures import corpus
from fixtures.upstreams import embedding_server

pytestmark = pytest.mark.e2e

POOL, CLUSTER, GATEWAY = "minilm", "corpus", "rag"
"""What this module applies. A Gateway and a VectorCluster each make a Service of their own
name, so theirs differ."""
KEY = "reader"
EMBEDDING = "minilm"
CITED = ("volcanoes.html", "chess.json", "car-troubleshooting.csv")
"""The questions answered with file_search, by the file that answers them (an HTML page, a JSON
document, a CSV table): the mock cites the first result, so these are questions the default
search ranks right at 1."""


@dataclass(frozen=True)
class Served:
    sdk: openai.OpenAI
    store: str
    file_ids: dict[str, str]
    """Each document's file id, by filename."""


def manifests(embedding_url: str, version: str) -> list[dict[str, Any]]:
    """The ProviderPool of the model server on this host, a one-member VectorCluster of Weaviate
    `version`, and the Gateway that serves the pool (and the quickstart's) and keeps its files
    and vector stores in that cluster."""
    api = {"apiVersion": "runestone.dev/v1alpha1"}
    embedding = {"name": EMBEDDING, "upstreamModel": embedding_server.MODEL, "kinds": ["embedding"]}
    provider = {"name": "minilm", "type": "openai", "baseURL": embedding_url, "models": [embedding]}
    pool = {
        **api,
        "kind": "ProviderPool",
        "metadata": {"name": POOL},
        "spec": {"providers": [provider]},
    }
    cluster = {
        **api,
        "kind": "VectorCluster",
        "metadata": {"name": CLUSTER},
        "spec": {"version": version, "replicas": 1, "storage": {"size": "1Gi"}},
    }
    gateway = {
        **api,
        "kind": "Gateway",
        "metadata": {"name": GATEWAY},
        "spec": {
            "providerPools": [{"name": POOL}, {"name": "mock"}],
            "replicas": 1,
            "apiKeys": [{"name": KEY}],
            "vectorStores": {"vectorClusterRef": {"name": CLUSTER}, "embeddingModel": EMBEDDING},
        },
    }
    return [pool, cluster, gateway]


@pytest.fixture(scope="module")
def served(quickstart: Quickstart, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The model server (started once for the module), the pool, cluster and Gateway applied
    and ready, the corpus uploaded into a new store; all undone after."""
    api, namespace, kubeconfig = quickstart.api, quickstart.namespace, quickstart.kubeconfig
    folder = tmp_path_factory.mktemp("retrieval")
    applied = folder / "corpus.yaml"
    kubelet_log, pods_dir = quickstart.kubelet_dir / "kubelet.log", quickstart.kubelet_dir / "pods"
    docs = install.kubectl(
        kubeconfig, "get", "-n", namespace, "-o", "json", "vectorclusters.runestone.dev/docs"
    )
    version = json.loads(docs)["spec"]["version"]
    with ExitStack() as stack:
        embedding_url = stack.enter_context(embedding_server.serve(processes.HOST_FOR_PODS))
        applied.write_text(yaml.safe_dump_all(manifests(embedding_url, version)))
        install.kubectl(kubeconfig, "apply", "-n", namespace, "-f", str(applied))
        stack.callback(install.kubectl, kubeconfig, "delete", "-n", namespace, "-f", str(applied))

        def progress() -> list[str]:
            install.check_not_crashing(kubelet_log, pods_dir, quickstart.namespaces)
            checks = (
                install.resource_progress(api, namespace, "providerpools", POOL),
                install.resource_progress(api, namespace, "vectorclusters", CLUSTER),
                install.resource_progress(api, namespace, "gateways", GATEWAY),
                install.gateway_progress(api, namespace, GATEWAY),
                install.link_progress(api, namespace, GATEWAY),
            )
            return [line for line in checks if line]

        install.wait_for(f"gateway {GATEWAY} and VectorCluster {CLUSTER}", progress, timeout=300)
        endpoint = install.gateway_endpoint(api, namespace, folder, GATEWAY, KEY)
        install.wait_for("its vector stores", endpoint.vector_store_progress, timeout=60)
        sdk: openai.OpenAI = endpoint.openai_client()
        store = sdk.vector_stores.create(name="corpus")
        stack.callback(sdk.vector_stores.delete, store.id)
        started = time.monotonic()
        batch = sdk.vector_stores.file_batches.upload_and_poll(store.id, files=corpus.uploads())
        took = time.monotonic() - started
        print(f"uploaded and indexed {len(corpus.DOCUMENTS)} files in {took:.1f}s")
        attached = sdk.vector_stores.files.list(store.id, limit=100)
        file_ids = {sdk.files.retrieve(item.id).filename: item.id for item in attached.data}
        for file_id in file_ids.values():
            stack.callback(sdk.files.delete, file_id)
        assert batch.status == "completed"
        assert batch.file_counts.completed == len(corpus.DOCUMENTS), batch.file_counts
        yield Served(sdk, store.id, file_ids)


def test_every_document_is_indexed(served: Served) -> None:
    assert sorted(served.file_ids) == sorted(document.filename for document in corpus.DOCUMENTS)


def test_questions_find_the_file_that_answers_them(served: Served) -> None:
    rates = {
        "hybrid (default)": corpus.measure(served.sdk, served.store),
        "vector": corpus.measure(served.sdk, served.store, "vector"),
        "keyword": corpus.measure(served.sdk, served.store, "keyword"),
    }
    count = len(corpus.QUESTIONS)
    for mode, measured in rates.items():
        print(f"{mode}, {count} questions: {measured}; first instead: {measured.first_instead}")
    default = rates["hybrid (default)"]
    # Seen with one member: hybrid 0.88 at 1 and 1.0 at 5 (the vector weighing 0.75; at 0.5,
    # 0.46 at 1: a stray keyword match often came first), vector 0.92 and 1.0, keyword 0.23 and
    # 0.42 (BM25 alone; few shared words by design; its statistics are per shard).
    assert default.at_5 >= 0.9
    assert default.at_1 >= 0.75
    assert rates["vector"].at_1 >= 0.8
    assert rates["vector"].at_5 >= 0.9


@pytest.mark.parametrize("answer", CITED)
def test_file_search_answers_cite_the_file(served: Served, answer: str) -> None:
    (question,) = [q.text for q in corpus.QUESTIONS if q.answer == answer]
    response = served.sdk.responses.create(
        model=install.CHAT_MODEL,
        input=question,
        tools=[{"type": "file_search", "vector_store_ids": [served.store]}],
        include=["file_search_call.results"],
    )
    assert response.status == "completed"
    output: list[Any] = list(response.output)
    call, message = output
    assert call.type == "file_search_call"
    assert call.queries == [question]
    assert call.results, "include asked for the results"
    assert call.results[0].filename == answer
    assert message.type == "message"
    citations = [
        (a.type, a.filename, a.file_id) for part in message.content for a in part.annotations
    ]
    assert citations == [("file_citation", answer, served.file_ids[answer])]
    assert answer in response.output_text
