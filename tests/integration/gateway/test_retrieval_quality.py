"""Retrieval with a real embedding model: all-MiniLM-L6-v2 served by a local OpenAI-compatible
embeddings server, routed through the gateway like any self-hosted provider. A small labelled
corpus is ingested with the `openai` SDK; questions worded unlike their documents must find the
file that answers them. Prints the hit rates at 1 and at 5 for each search mode."""

from __future__ import annotations

import io
from collections.abc import Iterator

import openai
import pytest

from fixtures import weaviate_node as weaviate_node_
from fixtures.upstreams import embedding_server, gateway_process, keys
from integration.sidecar import weaviate

KEY = keys.key("reader")
MODEL = "minilm"

CORPUS = {
    "tides.txt": "The gravitational pull of the moon raises bulges in the oceans, so coastlines "
    "see water levels climb and drop twice a day.",
    "sourdough.txt": "A starter of wild yeast and lactobacilli ferments the dough for hours, "
    "leavening the loaf and giving it a sour taste.",
    "volcanoes.txt": "Molten rock from the mantle erupts through vents in the crust; shield "
    "volcanoes build gentle slopes from runny basalt lava.",
    "photosynthesis.txt": "Plants capture sunlight with chlorophyll and turn carbon dioxide and "
    "water into sugar, releasing oxygen.",
    "vaccines.txt": "An inoculation trains the immune system to recognise a pathogen, so that "
    "antibodies are ready before a real infection.",
    "interest.txt": "Compound interest adds the earned interest to the principal, so savings "
    "grow faster every year they are left untouched.",
    "chess.txt": "In chess the knight moves in an L shape and is the only piece that can jump "
    "over other pieces on the board.",
    "marathon.txt": "Long-distance runners train for months, building endurance for the "
    "forty-two kilometre race first run in ancient Greece.",
    "bees.txt": "Honeybees perform a waggle dance to tell their hive mates the direction and "
    "distance of flowers rich in nectar.",
    "rust.txt": "Iron exposed to water and oxygen corrodes, forming reddish flaky oxides that "
    "weaken steel structures.",
}
QUESTIONS = {
    "Why does the sea level at the beach rise and fall each day?": "tides.txt",
    "What makes homemade bread taste tangy?": "sourdough.txt",
    "How do mountains that spew fire form?": "volcanoes.txt",
    "How do leaves make food from light?": "photosynthesis.txt",
    "How does a shot protect you from getting sick?": "vaccines.txt",
    "Why does money in a savings account snowball over time?": "interest.txt",
    "Which board game piece can leap over others?": "chess.txt",
    "How long is the famous footrace and where did it start?": "marathon.txt",
    "How do insects tell each other where food is?": "bees.txt",
    "What happens to a bicycle chain left out in the rain?": "rust.txt",
}


@pytest.fixture(scope="module")
def weaviate_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[weaviate.WeaviateNode]:
    with weaviate_node_.running(tmp_path_factory.mktemp("weaviate")) as node:
        yield node


@pytest.fixture(scope="module")
def sdk(
    weaviate_node: weaviate.WeaviateNode,
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[openai.OpenAI]:
    table = tmp_path_factory.mktemp("keys") / "keys.yaml"
    with embedding_server.serve() as base_url:
        embedding = gateway_process.model(MODEL, embedding_server.MODEL, kinds=["embedding"])
        provider = gateway_process.provider("minilm", base_url=base_url, models=[embedding])
        gateway = module_gateways(
            {
                "auth": keys.write_table(table, KEY),
                "providerPools": [gateway_process.pool("embeddings", [provider])],
                "vectorStores": {
                    "url": weaviate_node.url,
                    "apiKeyFile": str(weaviate_node.key_file),
                    "embeddingModel": MODEL,
                },
            }
        )
        yield gateway.client(api_key=KEY.plaintext)


def test_questions_find_the_file_that_answers_them(sdk: openai.OpenAI) -> None:
    store = sdk.vector_stores.create(name="corpus")
    batch = sdk.vector_stores.file_batches.upload_and_poll(
        store.id, files=[(name, io.BytesIO(text.encode())) for name, text in CORPUS.items()]
    )
    assert batch.file_counts.completed == len(CORPUS)
    rates = {}
    for mode in ("vector", "hybrid", "keyword"):
        at_1 = at_5 = 0
        for question, answer in QUESTIONS.items():
            found = sdk.vector_stores.search(
                store.id, query=question, max_num_results=5, extra_body={"search_mode": mode}
            )
            names = [hit.filename for hit in found.data]
            at_1 += names[:1] == [answer]
            at_5 += answer in names
        rates[mode] = (at_1 / len(QUESTIONS), at_5 / len(QUESTIONS))
    print("hit rate at 1 and at 5 by search mode:", rates)
    # Seen with this corpus: vector 0.9 at 1 and 1.0 at 5, hybrid 0.7 and 1.0, keyword (BM25
    # alone, few shared words by design) 0.6 and 0.6.
    assert rates["vector"][0] >= 0.8
    assert rates["vector"][1] == 1.0
    assert rates["hybrid"][1] >= 0.9
