"""A store file's attributes updated (its chunks follow, so filters see the new values) and its
parsed content read; search pages that say truthfully whether more follow; stores that expire
after their last use, refuse use and lose their chunks to the sweepers of several gateway
processes at once; and each new path attacked: another key's records, bad ids, oversized
attributes, a vanished Weaviate. Real Weaviate, real gateway processes, the `openai` SDK."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from fixtures import weaviate_node as weaviate_node_
from fixtures.upstreams import gateway_process
from integration.gateway import vector_stores
from integration.gateway.vector_stores import attached, refusal
from integration.sidecar import weaviate

OWNER, OTHER = vector_stores.OWNER, vector_stores.OTHER
weaviate_node = vector_stores.weaviate_node  # one Weaviate node for the module
SWEEP = {"sweepSeconds": 0.5, "heartbeatSeconds": 1}
gateway = vector_stores.gateway_fixture(**SWEEP)  # and a gateway process that sweeps often


def test_updated_attributes_reach_the_chunks_and_the_filters(
    gateway: gateway_process.GatewayProcess, weaviate_node: weaviate.WeaviateNode
) -> None:
    sdk = vector_stores.client(gateway)
    store = sdk.vector_stores.create(name="attributes")
    # Several chunks (chunks of 100 tokens), so every chunk must change, not just the first.
    text = "Glaciers carve valleys as they slide downhill over many centuries. " * 60
    file_id = attached(sdk, store.id, "ice.txt", text, region="alps", year=2020, draft=True)
    assert vector_stores.chunk_count(weaviate_node, "fileId", file_id) > 3
    alps = {"type": "eq", "key": "region", "value": "alps"}
    hits = sdk.vector_stores.search(store.id, query="glaciers", filters=alps)  # type: ignore[arg-type]
    assert hits.data

    updated = sdk.vector_stores.files.update(
        file_id, vector_store_id=store.id, attributes={"region": "andes", "year": "old"}
    )
    assert updated.attributes == {"region": "andes", "year": "old"}
    retrieved = sdk.vector_stores.files.retrieve(file_id, vector_store_id=store.id)
    assert retrieved.attributes == {"region": "andes", "year": "old"}
    old: Any
    for old in (
        {"type": "eq", "key": "region", "value": "alps"},
        {"type": "eq", "key": "year", "value": 2020},  # the number went (now a string)
        {"type": "eq", "key": "draft", "value": True},  # the key went
    ):
        assert sdk.vector_stores.search(store.id, query="glaciers", filters=old).data == [], old
    new = sdk.vector_stores.search(
        store.id, query="glaciers", max_num_results=50,
        filters={"type": "and", "filters": [{"type": "eq", "key": "region", "value": "andes"},
                                            {"type": "eq", "key": "year", "value": "old"}]},
    )  # fmt: skip
    assert len(new.data) == vector_stores.chunk_count(weaviate_node, "fileId", file_id)
    assert {str(hit.attributes) for hit in new.data} == {str({"region": "andes", "year": "old"})}
    # Vectors survive the rewrite: a vector search still finds the chunks.
    vector = sdk.vector_stores.search(store.id, query=text[:200],
                                      extra_body={"search_mode": "vector"})  # fmt: skip
    assert vector.data
    assert vector.data[0].file_id == file_id

    cleared = sdk.vector_stores.files.update(file_id, vector_store_id=store.id, attributes=None)
    assert cleared.attributes == {}
    gone: Any = {"type": "eq", "key": "region", "value": "andes"}
    assert sdk.vector_stores.search(store.id, query="glaciers", filters=gone).data == []
    sdk.vector_stores.delete(store.id)


def test_a_store_files_content_is_its_parsed_text(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = vector_stores.client(gateway)
    store = sdk.vector_stores.create(name="content")
    file_id = attached(sdk, store.id, "volcano.html", vector_stores.DOCS["volcano.html"])
    page = sdk.vector_stores.files.content(file_id, vector_store_id=store.id)
    assert [part.type for part in page.data] == ["text"]
    text = page.data[0].text or ""
    assert "Basalt lava flows" in text
    assert "<p>" not in text
    assert "zebra" not in text  # the script is not text
    raw = httpx.get(
        f"{gateway.base_url}/vector_stores/{store.id}/files/{file_id}/content",
        headers={"authorization": f"Bearer {OWNER.plaintext}"},
    ).json()
    assert (raw["object"], raw["has_more"], raw["next_page"]) == (
        "vector_store.file_content.page", False, None)  # fmt: skip
    sdk.vector_stores.delete(store.id)


def test_search_pages_say_whether_more_follow(gateway: gateway_process.GatewayProcess) -> None:
    sdk = vector_stores.client(gateway)
    store = sdk.vector_stores.create(name="pages")
    # Eleven files that all match the keyword (each more often: no two scores tie).
    for n in range(11):
        attached(sdk, store.id, f"orchard-{n}.txt", "Orchard apples. " * (n + 1))
    seen: list[str] = []
    body: dict[str, Any] = {"query": "orchard", "max_num_results": 4, "search_mode": "keyword"}
    url = f"{gateway.base_url}/vector_stores/{store.id}/search"
    headers = {"authorization": f"Bearer {OWNER.plaintext}"}
    pages = 0
    while True:
        page = httpx.post(url, json=body, headers=headers).json()
        pages += 1
        seen += [hit["filename"] for hit in page["data"]]
        if not page["has_more"]:
            assert page["next_page"] is None
            break
        assert len(page["data"]) == 4
        body["page"] = page["next_page"]
    assert pages == 3
    assert sorted(seen) == sorted(f"orchard-{n}.txt" for n in range(11))
    del body["page"]
    everything = httpx.post(url, json={**body, "max_num_results": 11}, headers=headers).json()
    assert len(everything["data"]) == 11
    assert not everything["has_more"]
    fewer = httpx.post(url, json={**body, "max_num_results": 10}, headers=headers).json()
    assert fewer["has_more"]
    for bad in ("nonsense", "vsp_eA", "vsp_LTE", "vsp_" + "A" * 60):
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.vector_stores.search(store.id, query="orchard", extra_body={"page": bad})
        assert refused.value.param == "page"
    sdk.vector_stores.delete(store.id)


def age(node: weaviate.WeaviateNode, store_id: str, days: int) -> None:
    """The store's last use moved `days` back, as if that much time had passed."""
    status, answer = node.call(
        "POST", "/v1/graphql",
        {"query": f'{{ Get {{ RunestoneVectorStore(where: {{path: ["storeId"], '
                  f'operator: Equal, valueText: "{store_id}"}}) {{ lastActiveAt expiresAt '
                  f"_additional {{ id }} }} }} }}"},
    )  # fmt: skip
    assert status == 200, answer
    found = answer["data"]["Get"]["RunestoneVectorStore"][0]
    shift = days * 86400
    status, answer = node.call(
        "PATCH", f"/v1/objects/RunestoneVectorStore/{found['_additional']['id']}",
        {"class": "RunestoneVectorStore", "properties": {
            "lastActiveAt": found["lastActiveAt"] - shift,
            "expiresAt": found["expiresAt"] - shift}},
    )  # fmt: skip
    assert status == 204, answer


def test_an_expired_store_refuses_use_and_the_sweepers_delete_its_chunks(
    gateway: gateway_process.GatewayProcess,
    module_gateways: gateway_process.GatewayStarter,
    weaviate_node: weaviate.WeaviateNode,
    tmp_path: Path,
) -> None:
    # A second process sweeps the same Weaviate at the same time.
    replica = module_gateways(
        vector_stores.document(weaviate_node, tmp_path / "keys.yaml", **SWEEP)
    )
    sdk = vector_stores.client(gateway)
    policy = {"anchor": "last_active_at", "days": 2}
    store = sdk.vector_stores.create(name="expiring", expires_after=policy)  # type: ignore[arg-type]
    kept = sdk.vector_stores.create(name="kept", expires_after=policy)  # type: ignore[arg-type]
    file_id = attached(sdk, store.id, "tides.md", vector_stores.DOCS["tides.md"])
    attached(sdk, kept.id, "tides.md", vector_stores.DOCS["tides.md"])
    before = sdk.vector_stores.retrieve(store.id)
    assert before.status == "completed"
    assert before.expires_at == before.last_active_at + 2 * 86400  # type: ignore[operator]

    age(weaviate_node, kept.id, 1)  # a day idle: not expired, and a use moves it on
    idle = sdk.vector_stores.retrieve(kept.id)
    sdk.vector_stores.search(kept.id, query="tides")
    used = sdk.vector_stores.retrieve(kept.id)
    assert used.last_active_at >= idle.last_active_at + 86400  # type: ignore[operator]
    assert used.expires_at == used.last_active_at + 2 * 86400  # type: ignore[operator]

    age(weaviate_node, store.id, 3)
    assert sdk.vector_stores.retrieve(store.id).status == "expired"
    file = sdk.files.create(file=("late.txt", io.BytesIO(b"late")), purpose="assistants")
    for use in (
        lambda: sdk.vector_stores.search(store.id, query="tides"),
        lambda: sdk.vector_stores.files.create(file_id=file.id, vector_store_id=store.id),
        lambda: sdk.vector_stores.file_batches.create(store.id, file_ids=[file.id]),
        *vector_stores.store_file_calls(sdk, store.id, file_id, {"a": "b"}),
        lambda: sdk.vector_stores.update(store.id, name="revived"),
    ):
        refused = refusal(use, openai.BadRequestError)
        assert refused.code == "vector_store_expired"
        assert store.id in refused.message
    gateway_process.eventually(
        lambda: vector_stores.chunk_count(weaviate_node, "storeId", store.id) == 0,
        timeout=30, what="the expired store's chunks deleted",
    )  # fmt: skip
    assert vector_stores.chunk_count(weaviate_node, "storeId", kept.id) > 0
    # Still listed and readable (as expired), and deletable.
    assert sdk.vector_stores.retrieve(store.id).status == "expired"
    assert store.id in {s.id for s in sdk.vector_stores.list(limit=100)}
    assert sdk.vector_stores.retrieve(kept.id).status == "completed"
    for process in (gateway, replica):
        assert "Traceback" not in process.stderr()
    sdk.vector_stores.delete(store.id)
    sdk.vector_stores.delete(kept.id)
    sdk.files.delete(file.id)


def test_the_new_paths_refuse_other_keys_bad_ids_and_oversized_attributes(
    gateway: gateway_process.GatewayProcess,
) -> None:
    owner, other = vector_stores.client(gateway), vector_stores.client(gateway, OTHER)
    store = owner.vector_stores.create(name="guarded")
    file_id = attached(owner, store.id, "secret.txt", "The treasure lies under the old oak.")
    theirs = other.vector_stores.create(name="theirs")
    for call in (
        *vector_stores.store_file_calls(other, store.id, file_id, {"x": "y"}),
        # Their own store, the owner's file id: not theirs either.
        *vector_stores.store_file_calls(other, theirs.id, file_id, {"x": "y"}),
        *vector_stores.store_file_calls(owner, store.id, "file-nope", {"x": "y"}),
        lambda: owner.vector_stores.files.content(file_id, vector_store_id="vs_nope"),
        lambda: owner.vector_stores.files.content("../../files", vector_store_id=store.id),
    ):
        refusal(call, openai.NotFoundError)
    too_many = {f"k{n}": "v" for n in range(17)}
    too_long = {"k": "v" * 513}
    long_key = {"k" * 65: "v"}
    nested = {"k": {"nested": 1}}
    for attributes in (too_many, too_long, long_key, nested):
        with pytest.raises(openai.BadRequestError) as refused:
            owner.vector_stores.files.update(
                file_id,
                vector_store_id=store.id,
                attributes=attributes,  # type: ignore[arg-type]
            )
        assert (refused.value.param or "").startswith("attributes"), refused.value.message
    fits = {f"k{n}": "v" * 512 for n in range(16)}
    assert (
        owner.vector_stores.files.update(
            file_id,
            vector_store_id=store.id,
            attributes=fits,  # type: ignore[arg-type]
        ).attributes
        == fits
    )
    # A missing body field is named too.
    raw = httpx.post(
        f"{gateway.base_url}/vector_stores/{store.id}/files/{file_id}",
        json={}, headers={"authorization": f"Bearer {OWNER.plaintext}"},
    )  # fmt: skip
    assert raw.status_code == 400
    assert raw.json()["error"]["param"] == "attributes"
    # Nothing of the text reached a log line.
    assert "treasure" not in gateway.stderr()
    assert not any("treasure" in line for line in gateway.stdout_lines)
    other.vector_stores.delete(theirs.id)
    owner.vector_stores.delete(store.id)


def test_a_vanished_weaviate_is_a_clear_503_on_the_new_paths(
    start_gateway: gateway_process.GatewayStarter, tmp_path: Path
) -> None:
    (tmp_path / "gone").mkdir()
    with weaviate_node_.running(tmp_path / "gone") as node:
        gateway = start_gateway(vector_stores.document(node, tmp_path / "keys.yaml"))
        sdk = vector_stores.client(gateway)
        store = sdk.vector_stores.create(name="vanishing")
        file_id = attached(sdk, store.id, "tides.md", vector_stores.DOCS["tides.md"])
    for call in (
        *vector_stores.store_file_calls(sdk, store.id, file_id, {"a": "b"}),
        lambda: sdk.vector_stores.search(store.id, query="tides"),
    ):
        refused = refusal(call, openai.InternalServerError)
        assert refused.status_code == 503
        assert refused.code == "vector_store_unavailable"
        assert "try again" in refused.message
    assert gateway.health("/livez").status_code == 200


def test_a_store_searched_then_deleted_or_expired_is_refused_at_once(
    gateway: gateway_process.GatewayProcess, weaviate_node: weaviate.WeaviateNode
) -> None:
    """A search may use the store's record that an earlier search of the same process read
    (`stores.RECENT_SECONDS`); a delete or a change of its expiry through this process is seen
    by the very next search."""
    sdk = vector_stores.client(gateway)
    store = sdk.vector_stores.create(name="recent")
    attached(sdk, store.id, "tides.md", vector_stores.DOCS["tides.md"])
    assert sdk.vector_stores.search(store.id, query="tides").data
    sdk.vector_stores.update(store.id, expires_after={"anchor": "last_active_at", "days": 1})
    age(weaviate_node, store.id, 2)  # as if two days had passed since
    expired = refusal(
        lambda: sdk.vector_stores.search(store.id, query="tides"), openai.BadRequestError
    )
    assert expired.code == "vector_store_expired"
    other = sdk.vector_stores.create(name="deleted")
    attached(sdk, other.id, "tides.md", vector_stores.DOCS["tides.md"])
    assert sdk.vector_stores.search(other.id, query="tides").data
    sdk.vector_stores.delete(other.id)
    gone = refusal(lambda: sdk.vector_stores.search(other.id, query="tides"), openai.NotFoundError)
    assert gone.code == "vector_store_not_found"
