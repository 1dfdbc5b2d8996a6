"""Ingestion's embeddings go through the gateway's own route: to OpenAI-compatible stand-ins,
with failover across tiers, cost charged to the key that attached the file, and an upstream
that fails turning into the file's `last_error` while the gateway stays healthy. A batch
cancelled while its files are being embedded ends `cancelled`."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import openai
import pytest

from fixtures import weaviate_node as weaviate_node_
from fixtures.upstreams import gateway_process, keys, running
from integration.sidecar import weaviate

KEY = keys.key("ingester")
MODEL = "emb"


@pytest.fixture(scope="module")
def weaviate_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[weaviate.WeaviateNode]:
    with weaviate_node_.running(tmp_path_factory.mktemp("weaviate")) as node:
        yield node


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[running.Upstream, running.Upstream]]:
    with running.upstream("openai") as primary, running.upstream("openai") as backup:
        yield primary, backup


@pytest.fixture(scope="module")
def gateway(
    weaviate_node: weaviate.WeaviateNode,
    upstreams: tuple[running.Upstream, running.Upstream],
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> gateway_process.GatewayProcess:
    primary, backup = upstreams
    table = tmp_path_factory.mktemp("keys") / "keys.yaml"
    model = {**gateway_process.model(MODEL, "upstream-embedding", kinds=["embedding"]),
             "price": {"inputPerMillionTokens": "1000"}}  # fmt: skip
    return module_gateways(
        {
            "auth": keys.write_table(table, KEY),
            "providerPools": [
                gateway_process.pool(
                    "embeddings",
                    [
                        gateway_process.provider("primary", primary, models=[model]),
                        gateway_process.provider("backup", backup, priority=1, models=[model]),
                    ],
                    circuitBreaker={"failureThreshold": 100},
                )
            ],
            "vectorStores": {
                "url": weaviate_node.url,
                "apiKeyFile": str(weaviate_node.key_file),
                "embeddingModel": MODEL,
            },
        }
    )


@pytest.fixture
def served(
    gateway: gateway_process.GatewayProcess, upstreams: tuple[running.Upstream, running.Upstream]
) -> Iterator[tuple[openai.OpenAI, running.Upstream, running.Upstream]]:
    for upstream in upstreams:
        upstream.reset()
    yield gateway.client(api_key=KEY.plaintext), *upstreams
    for upstream in upstreams:
        upstream.reset()


def test_embeddings_fail_over_and_are_charged_to_the_key(
    gateway: gateway_process.GatewayProcess,
    served: tuple[openai.OpenAI, running.Upstream, running.Upstream],
) -> None:
    sdk, primary, backup = served
    primary.behaviour.status = 500
    spent = gateway.metric("runestone_cost_usd_total", runestone_key_id=KEY.id)
    store = sdk.vector_stores.create(name="failover")
    attached = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("a.txt", io.BytesIO(b"Embedded by the backup tier."))
    )
    assert attached.status == "completed", attached.last_error
    assert primary.record.posts()
    assert [r.path for r in backup.record.posts()] == ["/v1/embeddings"]
    assert gateway.metric("runestone_cost_usd_total", runestone_key_id=KEY.id) > spent


def test_an_embedding_upstream_that_fails_fails_the_file_alone(
    gateway: gateway_process.GatewayProcess,
    served: tuple[openai.OpenAI, running.Upstream, running.Upstream],
) -> None:
    sdk, primary, backup = served
    primary.behaviour.status = backup.behaviour.status = 503
    store = sdk.vector_stores.create(name="down")
    attached = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("b.txt", io.BytesIO(b"Nobody embeds this."))
    )
    assert attached.status == "failed"
    assert attached.last_error is not None
    assert attached.last_error.code == "server_error"
    assert attached.last_error.message.startswith("Embedding failed")
    assert gateway.health("/readyz").status_code == 200
    # Once the upstreams answer again, the file is attached anew.
    primary.behaviour.status = backup.behaviour.status = 200
    sdk.vector_stores.files.delete(file_id=attached.id, vector_store_id=store.id)
    again = sdk.vector_stores.files.create_and_poll(file_id=attached.id, vector_store_id=store.id)
    assert again.status == "completed"


def test_a_batch_cancelled_while_embedding_ends_cancelled(
    served: tuple[openai.OpenAI, running.Upstream, running.Upstream],
) -> None:
    sdk, primary, _ = served
    primary.behaviour.delay_seconds = 3
    store = sdk.vector_stores.create(name="cancel")
    uploaded = [
        sdk.files.create(file=(f"c{n}.txt", io.BytesIO(b"slow text")), purpose="assistants")
        for n in range(2)
    ]
    batch = sdk.vector_stores.file_batches.create(store.id, file_ids=[file.id for file in uploaded])
    assert batch.status == "in_progress"
    cancelled = sdk.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled"
    assert cancelled.file_counts.cancelled == 2
    time.sleep(4)  # past the upstream's delay: nothing completes after the cancel
    files = sdk.vector_stores.files.list(store.id)
    assert {file.status for file in files.data} == {"cancelled"}
    assert sdk.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id).status == (
        "cancelled"
    )


def test_a_batch_of_many_files_embeds_a_few_at_a_time(
    served: tuple[openai.OpenAI, running.Upstream, running.Upstream],
) -> None:
    """Twelve files attached at once against a slow embedding server: the process makes at
    most `ingestConcurrency` (4) embedding calls at a time, and every file completes."""
    sdk, primary, _ = served
    primary.behaviour.delay_seconds = 0.3
    store = sdk.vector_stores.create(name="many")
    uploads = [
        sdk.files.create(
            file=(f"f{n}.txt", io.BytesIO(f"File {n}.".encode())), purpose="assistants"
        )
        for n in range(12)
    ]
    batch = sdk.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=[upload.id for upload in uploads]
    )
    assert (batch.file_counts.completed, batch.file_counts.failed) == (12, 0)
    assert len(primary.record.posts()) == 12
    assert 1 < primary.record.most_held <= 4


def test_an_embedding_upstream_away_for_a_moment_is_tried_again(
    served: tuple[openai.OpenAI, running.Upstream, running.Upstream],
) -> None:
    """Both tiers answer 503 when the file is attached, and recover within the first pause
    (one second): the file completes without a second attach."""
    sdk, primary, backup = served
    primary.behaviour.status = backup.behaviour.status = 503
    store = sdk.vector_stores.create(name="blip")
    upload = sdk.files.create(file=("c.txt", io.BytesIO(b"Tried again.")), purpose="assistants")
    sdk.vector_stores.files.create(file_id=upload.id, vector_store_id=store.id)
    gateway_process.eventually(
        lambda: backup.record.posts(), timeout=30, what="the first try failing on both tiers"
    )
    primary.behaviour.status = backup.behaviour.status = 200
    attached = sdk.vector_stores.files.poll(upload.id, vector_store_id=store.id)
    assert attached.status == "completed", attached.last_error
    assert len(primary.record.posts()) >= 2  # refused, then asked again
