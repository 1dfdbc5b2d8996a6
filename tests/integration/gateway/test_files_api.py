"""The Files endpoints of a real gateway process that stores into one real Weaviate node, with
the official `openai` SDK as the client: uploads, content, deletes and pagination; an upload
stored while it arrives, one that stalls (408) and one too large (413), each leaving nothing; bad
requests answered in OpenAI's envelope; the OpenAPI document; and what a gateway without a vector
store says to configure."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from fixtures.upstreams import gateway_process, raw_http
from integration.gateway import vector_stores
from integration.gateway.vector_stores import (
    MAX_FILE_BYTES,
    OTHER,
    OWNER,
    client,
    document,
    multipart_head,
    part_count,
    refusal,
    upload,
)
from integration.sidecar import weaviate

# One Weaviate node for the module and one gateway process serving from it:
weaviate_node, gateway = vector_stores.weaviate_node, vector_stores.gateway


def test_a_file_is_uploaded_read_listed_and_deleted(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway)
    content = ("line one\nline two\n" * 15_000)[:250_000]  # more than one stored part
    created = upload(sdk, "notes.txt", content)
    assert created.id.startswith("file-")
    assert (created.filename, created.bytes, created.purpose) == (
        "notes.txt",
        250_000,
        "assistants",
    )
    assert created.status == "processed"
    assert sdk.files.retrieve(created.id) == created
    assert sdk.files.content(created.id).content == content.encode()
    sdk.files.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        sdk.files.content(created.id)


def test_files_are_listed_newest_first_in_pages(gateway: gateway_process.GatewayProcess) -> None:
    sdk = client(gateway, OTHER)
    made = [upload(sdk, f"page-{n}.txt", f"page {n}").id for n in range(5)]
    first = sdk.files.list(limit=2)
    assert [f.id for f in first.data] == made[::-1][:2]
    assert first.has_more
    everything = [f.id for f in sdk.files.list(limit=2, order="asc")]  # the SDK pages on
    assert [i for i in everything if i in made] == made
    for file_id in made:
        sdk.files.delete(file_id)


def test_an_oversized_upload_is_refused_and_leaves_nothing(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway, OTHER)
    before = {f.id for f in sdk.files.list()}
    with pytest.raises(openai.APIStatusError) as refused:
        upload(sdk, "big.txt", b"x" * (MAX_FILE_BYTES + 1))
    assert refused.value.status_code == 413
    assert {f.id for f in sdk.files.list()} == before
    assert upload(sdk, "fits.txt", b"x" * MAX_FILE_BYTES).bytes == MAX_FILE_BYTES


def test_bad_requests_are_answered_in_openais_envelope(
    gateway: gateway_process.GatewayProcess,
) -> None:
    sdk = client(gateway)
    store = sdk.vector_stores.create(name="checks")
    with pytest.raises(openai.BadRequestError) as too_many:
        sdk.vector_stores.search(store.id, query="x", max_num_results=51)
    assert too_many.value.param == "max_num_results"
    with pytest.raises(openai.BadRequestError) as bad_filter:
        sdk.vector_stores.search(store.id, query="x", extra_body={"filters": {"type": "like"}})
    assert bad_filter.value.param == "filters"
    with pytest.raises(openai.BadRequestError) as overlap:
        sdk.vector_stores.create(
            name="bad", chunking_strategy={"type": "static", "static": {
                "max_chunk_size_tokens": 200, "chunk_overlap_tokens": 150}},
        )  # fmt: skip
    assert "half" in overlap.value.message
    with pytest.raises(openai.BadRequestError) as purpose:
        sdk.files.create(file=("a.txt", io.BytesIO(b"a")), purpose="fine-tune")
    assert purpose.value.param == "purpose"
    raw = httpx.get(
        f"{gateway.base_url}/vector_stores/{store.id}/nothing",
        headers={"authorization": f"Bearer {OWNER.plaintext}"},
    )
    assert raw.status_code == 404
    assert raw.json()["error"]["type"] == "not_found_error"
    assert raw.headers["x-request-id"]
    unauthenticated = httpx.get(f"{gateway.base_url}/files")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "invalid_api_key"
    sdk.vector_stores.delete(store.id)


def test_without_a_vector_store_the_endpoints_say_what_to_configure(
    start_gateway: gateway_process.GatewayStarter,
) -> None:
    bare = start_gateway({"providerPools": [gateway_process.pool("p", [
        gateway_process.provider("mock", models=[gateway_process.model("m")])])]})  # fmt: skip
    sdk = bare.client()
    for call in (
        lambda: sdk.files.list(),
        lambda: sdk.vector_stores.create(name="x"),
        lambda: sdk.vector_stores.search("vs_x", query="q"),
    ):
        refused = refusal(call, openai.BadRequestError)
        assert refused.code == "vector_stores_not_configured"
        assert "vectorStores" in refused.message


def test_an_upload_is_stored_while_it_arrives(
    gateway: gateway_process.GatewayProcess, weaviate_node: weaviate.WeaviateNode
) -> None:
    """The first parts are in Weaviate before the client has sent the rest of the file."""
    boundary = "runestone-test-boundary"
    piece, rest = b"z" * 200_000, b"r" * 80_000  # a stored part is 192 KiB
    client(gateway, OTHER).files.list()  # the collections exist from the first request on
    before = part_count(weaviate_node)
    seen_while_sending: list[int] = []

    def body() -> Iterator[bytes]:
        yield multipart_head(boundary, "slow.txt")
        yield piece
        # Nothing more is sent until the gateway has stored what it has.
        seen_while_sending.append(
            gateway_process.eventually(
                lambda: part_count(weaviate_node) - before or None, what="a stored part"
            )
        )
        yield rest
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = httpx.post(
        f"{gateway.base_url}/files",
        content=body(),
        headers={
            "authorization": f"Bearer {OTHER.plaintext}",
            "content-type": f"multipart/form-data; boundary={boundary}",
        },
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["bytes"] == 280_000
    assert seen_while_sending[0] >= 1
    file_id = answer.json()["id"]
    assert client(gateway, OTHER).files.content(file_id).content == piece + rest
    client(gateway, OTHER).files.delete(file_id)
    assert part_count(weaviate_node) == before


def test_the_openapi_document_describes_the_endpoints(
    gateway: gateway_process.GatewayProcess,
) -> None:
    answer = httpx.get(
        f"{gateway.base_url}/vector_stores/openapi.json",
        headers={"authorization": f"Bearer {OWNER.plaintext}"},
    )
    assert answer.status_code == 200
    paths = answer.json()["paths"]
    assert "/v1/vector_stores/{store_id}/search" in paths
    upload_form = paths["/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload_form["schema"]["required"] == ["file", "purpose"]


def test_an_upload_that_stalls_is_answered_408_and_leaves_nothing(
    weaviate_node: weaviate.WeaviateNode,
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Uploads stream into storage rather than through the request-body intake, yet keep its
    deadline: an upload from which nothing more arrives is cut, and what it stored goes."""
    deadline = 2
    table = tmp_path_factory.mktemp("keys") / "keys.yaml"
    gateway = module_gateways(
        {**document(weaviate_node, table), "server": {"bodyTimeoutSeconds": deadline}}
    )
    client(gateway, OTHER).files.list()  # the collections exist from the first request on
    before = part_count(weaviate_node)
    boundary = "runestone-stall"
    sent = multipart_head(boundary, "stalled.txt") + b"s" * 200_000  # more than one stored part
    with raw_http.connect(gateway.port, OTHER.plaintext) as connection:
        request = connection.post(
            b"/v1/files",
            b"",
            b"content-type: multipart/form-data; boundary=" + boundary.encode(),
            b"content-length: %d" % (len(sent) + 100_000),
        )
        started = time.monotonic()
        connection.send(request + sent)
        answer = connection.answer()
        waited = time.monotonic() - started
        assert answer.status == 408, answer.body
        assert answer.envelope()["code"] == "request_timeout"
        assert answer.headers[b"connection"] == b"close"
        assert connection.closed_within(5)
    assert deadline - 0.5 <= waited <= deadline + 5
    assert gateway.metric("runestone_gateway_request_body_rejections_total", reason="stalled") == 1
    gateway_process.eventually(
        lambda: part_count(weaviate_node) == before, what="the stored parts removed"
    )
    assert not [
        file for file in client(gateway, OTHER).files.list() if file.filename == "stalled.txt"
    ]
