"""Keys and safety of the files and vector stores a real gateway process serves from one real
Weaviate node, with the official `openai` SDK as the client: two keys that never see each other's
records, bad files that fail alone, per-key storage quotas, the embedding model a key must be
allowed, and another replica serving what one stored with none of the text in either's log."""

from __future__ import annotations

import io
import time
from pathlib import Path

import openai
import pytest

from fixtures import pdfs
from fixtures.upstreams import gateway_process
from integration.gateway import vector_stores
from integration.gateway.vector_stores import (
    NO_EMBEDDING,
    OTHER,
    SMALL_QUOTA,
    client,
    document,
    refusal,
    upload,
)
from integration.sidecar import weaviate

# One Weaviate node for the module and one gateway process serving from it:
weaviate_node, gateway = vector_stores.weaviate_node, vector_stores.gateway


def test_another_key_never_sees_a_keys_files_and_stores(
    gateway: gateway_process.GatewayProcess,
) -> None:
    owner, other = client(gateway), client(gateway, OTHER)
    file = upload(owner, "private.txt", "The vault code is hidden in the lighthouse.")
    store = owner.vector_stores.create(name="private", file_ids=[file.id])
    for call in (
        lambda: other.files.retrieve(file.id),
        lambda: other.files.content(file.id),
        lambda: other.files.delete(file.id),
        lambda: other.vector_stores.retrieve(store.id),
        lambda: other.vector_stores.update(store.id, name="mine"),
        lambda: other.vector_stores.delete(store.id),
        lambda: other.vector_stores.search(store.id, query="vault"),
        lambda: other.vector_stores.files.list(store.id),
        lambda: other.vector_stores.files.retrieve(file_id=file.id, vector_store_id=store.id),
    ):
        refusal(call, openai.NotFoundError)
    assert file.id not in {f.id for f in other.files.list()}
    assert store.id not in {s.id for s in other.vector_stores.list()}
    own_store = other.vector_stores.create(name="theirs")
    with pytest.raises(openai.NotFoundError):  # nor can it attach the owner's file
        other.vector_stores.files.create(file_id=file.id, vector_store_id=own_store.id)
    with pytest.raises(openai.NotFoundError):
        other.vector_stores.create(name="sneaky", file_ids=[file.id])
    # The owner still has everything.
    assert owner.files.retrieve(file.id).id == file.id
    assert owner.vector_stores.retrieve(store.id).name == "private"
    other.vector_stores.delete(own_store.id)
    owner.vector_stores.delete(store.id)
    owner.files.delete(file.id)


def test_bad_files_fail_alone_with_a_clear_last_error(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway)
    store = sdk.vector_stores.create(name="mixed")
    image = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("photo.png", io.BytesIO(b"\x89PNG\r\n\x1a\n...."))
    )
    assert image.status == "failed"
    assert image.last_error is not None
    assert image.last_error.code == "unsupported_file"
    broken = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("paper.pdf", io.BytesIO(pdfs.document("x" * 40)[:120]))
    )
    assert broken.status == "failed"
    assert broken.last_error is not None
    assert broken.last_error.code == "invalid_file"
    good = sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id,
        file=("paper2.pdf", io.BytesIO(pdfs.document("Narwhals have one long tusk."))),
    )
    assert good.status == "completed", good.last_error
    counts = sdk.vector_stores.retrieve(store.id).file_counts
    assert (counts.completed, counts.failed, counts.total) == (1, 2, 3)
    assert sdk.vector_stores.search(store.id, query="narwhal tusk").data[0].filename == "paper2.pdf"
    failed = sdk.vector_stores.files.list(store.id, filter="failed")
    assert len(failed.data) == 2
    assert gateway.health("/readyz").status_code == 200
    sdk.vector_stores.delete(store.id)


def test_storage_quotas_are_refused_with_a_clear_error(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway, SMALL_QUOTA)
    with pytest.raises(openai.PermissionDeniedError) as too_big:
        upload(sdk, "large.txt", b"y" * 4001)
    assert too_big.value.code == "storage_quota_exceeded"
    assert "maxStoredBytes" in too_big.value.message
    first = upload(sdk, "one.txt", b"a" * 3000)
    with pytest.raises(openai.PermissionDeniedError):
        upload(sdk, "two.txt", b"b" * 1001)  # 4001 bytes in all
    upload(sdk, "two.txt", b"b" * 1000)
    with pytest.raises(openai.PermissionDeniedError) as too_many:
        upload(sdk, "three.txt", b"c")
    assert "maxFiles" in too_many.value.message
    sdk.files.delete(first.id)  # deleting frees the room
    upload(sdk, "three.txt", b"c")


def test_the_embedding_model_must_be_allowed_for_the_key(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway, NO_EMBEDDING)
    file = upload(sdk, "allowed.txt", "Uploading needs no model.")
    store = sdk.vector_stores.create(name="no-embedding")
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk.vector_stores.files.create(file_id=file.id, vector_store_id=store.id)
    assert refused.value.code == "model_not_allowed"
    with pytest.raises(openai.PermissionDeniedError):
        sdk.vector_stores.search(store.id, query="anything")
    keyword = sdk.vector_stores.search(
        store.id, query="anything", extra_body={"search_mode": "keyword"}
    )
    assert keyword.data == []  # BM25 alone embeds nothing


def test_another_replica_serves_what_one_stored_and_no_text_is_logged(
    gateway: gateway_process.GatewayProcess,
    module_gateways: gateway_process.GatewayStarter,
    weaviate_node: weaviate.WeaviateNode,
    tmp_path: Path,
) -> None:
    secret_text = "Marmalade recipe: bitter Seville oranges simmered slowly."
    sdk = client(gateway)
    file = upload(sdk, "recipe.txt", secret_text)
    store = sdk.vector_stores.create(name="shared", file_ids=[file.id])
    deadline = time.monotonic() + 60
    while sdk.vector_stores.retrieve(store.id).status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    replica = module_gateways(document(weaviate_node, tmp_path / "keys.yaml"))
    other = client(replica)
    assert other.files.content(file.id).content == secret_text.encode()
    assert other.vector_stores.search(store.id, query="seville oranges").data[0].file_id == file.id
    for process in (gateway, replica):
        assert "Seville" not in process.stderr()
        assert not any("Seville" in line for line in process.stdout_lines)
    sdk.vector_stores.delete(store.id)
    sdk.files.delete(file.id)
