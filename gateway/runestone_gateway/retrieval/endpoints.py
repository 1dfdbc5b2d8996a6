"""The routes of `/v1/files` and `/v1/vector_stores`, in OpenAI's shapes (the `openai` SDK's
types are the reference). Every record is the caller's own: another key's is answered 404 and
never listed. Attaching a file starts its ingestion in the background (`ingest`)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Annotated, Any, Literal

import fastapi
import orjson
from fastapi import responses

from runestone_gateway import errors
from runestone_gateway.admission import auth
from runestone_gateway.retrieval import (
    app as app_,
)
from runestone_gateway.retrieval import (
    extract,
    files,
    filters,
    ingest,
    models,
    records,
    search,
    serving,
    stores,
    uploads,
)

Ctx = Annotated[app_.Context, fastapi.Depends(app_.context)]
Limit = Annotated[int, fastapi.Query(ge=1, le=100)]
Order = Annotated[Literal["asc", "desc"], fastapi.Query()]
StatusFilter = Literal["in_progress", "completed", "failed", "cancelled"]
POLL_AFTER_MS = "500"
"""Asked of the SDK's polling helpers (`openai-poll-after-ms`)."""


def app() -> fastapi.FastAPI:
    served = fastapi.FastAPI(
        title="Runestone gateway: files and vector stores",
        openapi_url="/v1/vector_stores/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app_.install_error_handlers(served)
    served.include_router(router)
    return served


router = fastapi.APIRouter(prefix="/v1")


@dataclasses.dataclass(frozen=True)
class Paging:
    """A list's query: `after` (an id), `limit`, `order` by creation."""

    after: str | None = None
    limit: Limit = 20
    order: Order = "desc"


async def paging(after: str | None = None, limit: Limit = 20, order: Order = "desc") -> Paging:
    """The list's query, read by FastAPI from the query string (a coroutine: a plain callable
    would be run on a worker thread for every request)."""
    return Paging(after, limit, order)


Paged = Annotated[Paging, fastapi.Depends(paging)]


def _list(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


async def _cursor(
    store: records.Records, collection: str, record_id: str | None, owner: str
) -> dict[str, Any] | None:
    if record_id is None:
        return None
    found = await store.get(collection, record_id, owner)
    if found is None:
        raise errors.malformed(f"No object with id {record_id!r} to list after.", param="after")
    return found


# -- files


_UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "purpose": {"type": "string", "enum": list(files.PURPOSES)},
                    },
                }
            }
        },
    }
}


@router.post("/files", openapi_extra=_UPLOAD_FORM)
async def create_file(ctx: Ctx, request: fastapi.Request) -> dict[str, Any]:
    """Read as it arrives (`uploads`), not through FastAPI's form parsing, which spools the
    whole file before the handler runs."""
    settings = ctx.retrieval.gateway.runtime.config.vector_stores
    assert settings is not None
    store = await ctx.retrieval.records()
    form = uploads.Form(request.headers.get("content-type"), request.stream())
    limits = ctx.who.limits
    quota = None
    if limits.max_stored_bytes is not None or limits.max_files is not None:
        quota = files.Quota(ctx.retrieval.uploads(), limits.max_stored_bytes, limits.max_files)
    announced = request.headers.get("content-length", "")
    record = await files.upload(
        store, ctx.owner, form, max_bytes=settings.max_file_bytes, quota=quota,
        announced=int(announced) if announced.isdigit() else 0,
    )  # fmt: skip
    return files.body(record)


@router.get("/files")
async def list_files(
    ctx: Ctx,
    after: str | None = None,
    limit: Annotated[int, fastapi.Query(ge=1, le=10000)] = 10000,
    order: Order = "desc",
    purpose: str | None = None,
) -> dict[str, Any]:
    store = await ctx.retrieval.records()
    where = records.equal("owner", ctx.owner)
    if purpose is not None:
        where = records.all_of(where, records.equal("purpose", purpose))
    cursor = await _cursor(store, records.FILES, after, ctx.owner)
    fields = ["owner", "filename", "bytes", "purpose", "parts"]
    page = await store.page(
        records.FILES, "fileId", where, fields, after=cursor, limit=limit, order=order
    )
    return _list([files.body(item) for item in page.items], page.has_more)


async def _owned(
    ctx: app_.Context, collection: str, record_id: str, missing: errors.GatewayError
) -> tuple[records.Records, dict[str, Any]]:
    """The caller's record, or `missing` (also for another key's)."""
    store = await ctx.retrieval.records()
    found = await store.get(collection, record_id, ctx.owner)
    if found is None:
        raise missing
    return store, found


async def _file(ctx: app_.Context, file_id: str) -> tuple[records.Records, dict[str, Any]]:
    return await _owned(ctx, records.FILES, file_id, files.not_found(file_id))


@router.get("/files/{file_id}")
async def retrieve_file(ctx: Ctx, file_id: str) -> dict[str, Any]:
    _, found = await _file(ctx, file_id)
    return files.body(found)


@router.get("/files/{file_id}/content")
async def file_content(ctx: Ctx, file_id: str) -> responses.StreamingResponse:
    store, found = await _file(ctx, file_id)
    return responses.StreamingResponse(
        files.content(store, found),
        media_type="application/octet-stream",
        headers={"content-length": str(found["bytes"])},
    )


@router.delete("/files/{file_id}")
async def delete_file(ctx: Ctx, file_id: str) -> dict[str, Any]:
    store, found = await _file(ctx, file_id)
    await files.delete(store, found)
    return {"id": file_id, "object": "file", "deleted": True}


# -- vector stores


@router.post("/vector_stores")
async def create_store(ctx: Ctx, request: models.CreateStore) -> dict[str, Any]:
    store = await ctx.retrieval.records()
    if request.file_ids:
        _check_embedding_model(ctx)
        for file_id in request.file_ids:  # every file must be the caller's before any is used
            if await store.get(records.FILES, file_id, ctx.owner) is None:
                raise files.not_found(file_id)
    store_id = files.new_id("vs_")
    record = {
        "storeId": store_id,
        "owner": ctx.owner,
        "name": request.name or "",
        "createdUs": records.now_us(),
        "metadata": records.dumps(request.metadata or {}),
        "expiresAfter": records.dumps(request.expires_after.model_dump())
        if request.expires_after
        else "",
    }
    record |= stores.activity(record, int(time.time()))
    await store.put(records.STORES, store_id, record)
    for file_id in request.file_ids:
        await _attach(ctx, store, store_id, models.AttachFile(
            file_id=file_id, chunking_strategy=request.chunking_strategy))  # fmt: skip
    return await stores.body(store, record)


@router.get("/vector_stores")
async def list_stores(ctx: Ctx, paging: Paged) -> dict[str, Any]:
    store = await ctx.retrieval.records()
    cursor = await _cursor(store, records.STORES, paging.after, ctx.owner)
    fields = ["owner", "name", "lastActiveAt", "metadata", "expiresAfter", "sweptAt"]
    page = await store.page(
        records.STORES,
        "storeId",
        records.equal("owner", ctx.owner),
        fields,
        after=cursor,
        limit=paging.limit,
        order=paging.order,
    )
    return _list([await stores.body(store, item) for item in page.items], page.has_more)


async def _store(ctx: app_.Context, store_id: str) -> tuple[records.Records, dict[str, Any]]:
    return await _owned(ctx, records.STORES, store_id, stores.not_found(store_id))


async def _used(
    ctx: app_.Context, store_id: str, *, recent: bool = False
) -> tuple[records.Records, dict[str, Any]]:
    """The caller's store, refused once expired, marked active now (its expiry moves on) unless
    a use within the last `stores.ACTIVITY_STEP` seconds did so already. `recent`: a record
    this process read within `stores.RECENT_SECONDS` will do (searches)."""
    cached = ctx.retrieval.recent_stores
    found = cached.get(ctx.owner, store_id, time.monotonic()) if recent else None
    if found is None:
        store, found = await _store(ctx, store_id)
        if recent:
            cached.put(ctx.owner, store_id, found, time.monotonic())
    else:
        store = await ctx.retrieval.records()
    stores.check_usable(found)
    now = int(time.time())
    if not stores.activity_due(found, now):
        return store, found
    changes = stores.activity(found, now)
    await store.merge(records.STORES, store_id, changes)
    found = {**found, **changes}
    if recent:
        cached.put(ctx.owner, store_id, found, time.monotonic())
    return store, found


@router.get("/vector_stores/{store_id}")
async def retrieve_store(ctx: Ctx, store_id: str) -> dict[str, Any]:
    store, found = await _store(ctx, store_id)
    return await stores.body(store, found)


@router.post("/vector_stores/{store_id}")
async def modify_store(ctx: Ctx, store_id: str, request: models.ModifyStore) -> dict[str, Any]:
    store, found = await _store(ctx, store_id)
    stores.check_usable(found)
    changes: dict[str, Any] = {}
    if request.name is not None:
        changes["name"] = request.name
    if request.metadata is not None:
        changes["metadata"] = records.dumps(request.metadata)
    if "expires_after" in request.model_fields_set:
        after = request.expires_after
        changes["expiresAfter"] = records.dumps(after.model_dump()) if after else ""
        changes |= stores.activity({**found, **changes}, stores.last_active(found))
    if changes:
        await store.merge(records.STORES, store_id, changes)
        ctx.retrieval.recent_stores.forget(store_id)
    return await stores.body(store, {**found, **changes})


@router.delete("/vector_stores/{store_id}")
async def delete_store(ctx: Ctx, store_id: str) -> dict[str, Any]:
    store, _ = await _store(ctx, store_id)
    ctx.retrieval.recent_stores.forget(store_id)
    for attached in await stores.files_of(store, store_id):
        ctx.retrieval.cancel(stores.store_file_key(store_id, attached["fileId"]))
    await store.delete(records.STORES, store_id)
    where = records.equal("storeId", store_id)
    for collection in (records.CHUNKS, records.STORE_FILES, records.BATCHES):
        await store.delete_where(collection, where)
    return {"id": store_id, "object": "vector_store.deleted", "deleted": True}


# -- a store's files


def _check_embedding_model(ctx: app_.Context) -> None:
    settings = ctx.retrieval.gateway.runtime.config.vector_stores
    if settings is None:
        raise serving.not_configured()
    auth.check_model(ctx.who, settings.embedding_model)


async def _attach(
    ctx: app_.Context, store: records.Records, store_id: str, request: models.AttachFile
) -> dict[str, Any]:
    """The store's record of the file, ingesting it unless it is (being) ingested already."""
    _check_embedding_model(ctx)
    file = await store.get(records.FILES, request.file_id, ctx.owner)
    if file is None:
        raise files.not_found(request.file_id)
    key = stores.store_file_key(store_id, request.file_id)
    existing = await store.get(records.STORE_FILES, key, ctx.owner)
    if existing is not None and existing["status"] in ("in_progress", "completed"):
        return existing
    settings = ctx.retrieval.gateway.runtime.config.vector_stores
    assert settings is not None
    strategy = settings.chunking
    if request.chunking_strategy is not None:
        strategy = request.chunking_strategy.resolve(settings.chunking)
    attributes = dict(request.attributes or {})
    record = {
        "storeId": store_id,
        "fileId": request.file_id,
        "owner": ctx.owner,
        "status": "in_progress",
        "lastError": "",
        "attributes": records.dumps(attributes),
        "chunking": records.dumps(models.chunking_body(strategy)),
        "usageBytes": 0,
        "createdUs": records.now_us(),
        "heartbeatUs": records.now_us(),
    }
    await store.put(records.STORE_FILES, key, record)
    ctx.retrieval.ingest(store, ingest.Job(store_id, file, attributes, strategy), ctx.who)
    return record


def _polled(body: dict[str, Any]) -> responses.JSONResponse:
    return responses.JSONResponse(body, headers={"openai-poll-after-ms": POLL_AFTER_MS})


@router.post("/vector_stores/{store_id}/files")
async def attach_file(
    ctx: Ctx, store_id: str, request: models.AttachFile
) -> responses.JSONResponse:
    store, _ = await _used(ctx, store_id)
    record = await _attach(ctx, store, store_id, request)
    return _polled(stores.file_body(store_id, record))


_STORE_FILE_FIELDS = ["owner", "status", "lastError", "attributes", "chunking", "usageBytes"]


@router.get("/vector_stores/{store_id}/files")
async def list_store_files(
    ctx: Ctx, store_id: str, paging: Paged, filter: StatusFilter | None = None
) -> dict[str, Any]:
    store, _ = await _store(ctx, store_id)
    where = records.equal("storeId", store_id)
    return await _store_files(ctx, store, store_id, where, paging, filter)


async def _store_files(
    ctx: app_.Context,
    store: records.Records,
    store_id: str,
    where: filters.Where,
    paging: Paging,
    status: str | None,
) -> dict[str, Any]:
    if status is not None:
        where = records.all_of(where, records.equal("status", status))
    cursor = None
    if paging.after is not None:
        key = stores.store_file_key(store_id, paging.after)
        cursor = await _cursor(store, records.STORE_FILES, key, ctx.owner)
    page = await store.page(
        records.STORE_FILES, "fileId", where, _STORE_FILE_FIELDS,
        after=cursor, limit=paging.limit, order=paging.order,
    )  # fmt: skip
    return _list([stores.file_body(store_id, item) for item in page.items], page.has_more)


async def _store_file(
    ctx: app_.Context, store_id: str, file_id: str
) -> tuple[records.Records, dict[str, Any]]:
    await _store(ctx, store_id)
    key = stores.store_file_key(store_id, file_id)
    return await _owned(ctx, records.STORE_FILES, key, stores.file_not_found(store_id, file_id))


@router.get("/vector_stores/{store_id}/files/{file_id}")
async def retrieve_store_file(ctx: Ctx, store_id: str, file_id: str) -> responses.JSONResponse:
    _, found = await _store_file(ctx, store_id, file_id)
    return _polled(stores.file_body(store_id, found))


@router.post("/vector_stores/{store_id}/files/{file_id}")
async def update_store_file(
    ctx: Ctx, store_id: str, file_id: str, request: models.UpdateFile
) -> responses.JSONResponse:
    """New attributes, on the record and on every chunk (filters see them at once)."""
    store, _ = await _used(ctx, store_id)
    key = stores.store_file_key(store_id, file_id)
    _, found = await _owned(ctx, records.STORE_FILES, key, stores.file_not_found(store_id, file_id))
    attributes = records.dumps(dict(request.attributes or {}))
    await store.merge(records.STORE_FILES, key, {"attributes": attributes})
    # An ingestion still writing reads the record again before each write and at its end.
    await ingest.rewrite_attributes(store, store_id, file_id)
    return _polled(stores.file_body(store_id, {**found, "attributes": attributes}))


@router.get("/vector_stores/{store_id}/files/{file_id}/content")
async def store_file_content(ctx: Ctx, store_id: str, file_id: str) -> dict[str, Any]:
    """The file's parsed text, as OpenAI pages it (one page, each text part an entry)."""
    store, _ = await _used(ctx, store_id)
    key = stores.store_file_key(store_id, file_id)
    await _owned(ctx, records.STORE_FILES, key, stores.file_not_found(store_id, file_id))
    file = await store.get(records.FILES, file_id, ctx.owner)
    if file is None:
        raise stores.file_not_found(store_id, file_id)
    data = await files.read_all(store, file)
    try:
        text = await asyncio.to_thread(extract.text, file["filename"], data)
    except extract.Unreadable as error:
        raise errors.invalid(error.message, code=error.code) from None
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": text}] if text else [],
        "has_more": False,
        "next_page": None,
    }


@router.delete("/vector_stores/{store_id}/files/{file_id}")
async def detach_file(ctx: Ctx, store_id: str, file_id: str) -> dict[str, Any]:
    store, _ = await _store_file(ctx, store_id, file_id)
    key = stores.store_file_key(store_id, file_id)
    ctx.retrieval.cancel(key)
    await store.delete(records.STORE_FILES, key)
    await ingest.forget_chunks(store, store_id, file_id)
    return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


# -- file batches


@router.post("/vector_stores/{store_id}/file_batches")
async def create_batch(
    ctx: Ctx, store_id: str, request: models.CreateBatch
) -> responses.JSONResponse:
    store, _ = await _used(ctx, store_id)
    attachments = request.attachments()
    if not attachments:
        raise errors.malformed("A batch needs at least one file.", param="file_ids")
    for attachment in attachments:
        if await store.get(records.FILES, attachment.file_id, ctx.owner) is None:
            raise files.not_found(attachment.file_id)
    batch_id = files.new_id("vsfb_")
    record = {
        "batchId": batch_id,
        "storeId": store_id,
        "owner": ctx.owner,
        "status": "in_progress",
        "fileIds": records.dumps([attachment.file_id for attachment in attachments]),
        "createdUs": records.now_us(),
    }
    await store.put(records.BATCHES, batch_id, record)
    for attachment in attachments:
        await _attach(ctx, store, store_id, attachment)
    return _polled(await stores.batch_body(store, record))


async def _batch(
    ctx: app_.Context, store_id: str, batch_id: str
) -> tuple[records.Records, dict[str, Any]]:
    store, _ = await _store(ctx, store_id)
    found = await store.get(records.BATCHES, batch_id, ctx.owner)
    if found is None or found["storeId"] != store_id:
        raise errors.invalid(
            f"No file batch found with id '{batch_id}'.", code="batch_not_found", status=404
        )
    return store, found


@router.get("/vector_stores/{store_id}/file_batches/{batch_id}")
async def retrieve_batch(ctx: Ctx, store_id: str, batch_id: str) -> responses.JSONResponse:
    store, found = await _batch(ctx, store_id, batch_id)
    return _polled(await stores.batch_body(store, found))


@router.post("/vector_stores/{store_id}/file_batches/{batch_id}/cancel")
async def cancel_batch(ctx: Ctx, store_id: str, batch_id: str) -> dict[str, Any]:
    store, found = await _batch(ctx, store_id, batch_id)
    if (await stores.batch_body(store, found))["status"] == "in_progress":
        for file_id in records.loads(found["fileIds"]) or []:
            key = stores.store_file_key(store_id, file_id)
            attached = await store.get(records.STORE_FILES, key, ctx.owner)
            if attached is not None and attached["status"] == "in_progress":
                ctx.retrieval.cancel(key)
                await store.merge(records.STORE_FILES, key, {"status": "cancelled"})
        await store.merge(records.BATCHES, batch_id, {"status": "cancelled"})
        found = {**found, "status": "cancelled"}
    return await stores.batch_body(store, found)


@router.get("/vector_stores/{store_id}/file_batches/{batch_id}/files")
async def list_batch_files(
    ctx: Ctx, store_id: str, batch_id: str, paging: Paged, filter: StatusFilter | None = None
) -> dict[str, Any]:
    store, found = await _batch(ctx, store_id, batch_id)
    where = records.all_of(
        records.equal("storeId", store_id),
        # GraphQL takes the list in valueText (the REST API's valueTextArray).
        {"path": ["fileId"], "operator": "ContainsAny",
         "valueText": records.loads(found["fileIds"]) or []},
    )  # fmt: skip
    return await _store_files(ctx, store, store_id, where, paging, filter)


# -- search


@router.post("/vector_stores/{store_id}/search")
async def search_route(ctx: Ctx, store_id: str, request: models.Search) -> responses.Response:
    """The page as JSON straight from orjson: FastAPI's encoding of a returned dict walks it
    first, about 0.2 ms for five 800-token chunks, more than the rest of the gateway's work."""
    page = await search_store(ctx, store_id, request)
    return responses.Response(orjson.dumps(page), media_type="application/json")


async def search_store(ctx: app_.Context, store_id: str, request: models.Search) -> dict[str, Any]:
    store, _ = await _used(ctx, store_id, recent=True)
    queries = [request.query] if isinstance(request.query, str) else list(request.query)
    offset = search.offset(request.page)
    base = records.equal("storeId", store_id)
    where: filters.Decided = base
    if request.filters is not None:
        known = await store.chunk_properties(refresh=True)
        decided = filters.translate(request.filters, known)
        where = decided if isinstance(decided, bool) else records.all_of(base, decided)
    found: list[dict[str, Any]] = []
    has_more = False
    if where is not False:
        mode: search.Mode = request.search_mode
        vectors: list[list[float] | None] = [None] * len(queries)
        if mode != "keyword":
            _check_embedding_model(ctx)
            path = f"/v1/vector_stores/{store_id}/search"
            vectors = list(await serving.embed(ctx.retrieval.gateway, ctx.who, queries, path))
        hits: list[tuple[dict[str, Any], float]] = []
        limit = request.max_num_results
        # One more than the page from each query tells whether another page follows.
        wanted = offset + limit + 1
        for text, vector in zip(queries, vectors, strict=True):
            query = search.query(
                records.CHUNKS, text, vector, mode, base if where is True else where, wanted
            )
            data = await store.client.graphql(query)
            hits += [(hit, search.score(hit, mode)) for hit in data["Get"][records.CHUNKS] or []]
        threshold = request.ranking_options.score_threshold if request.ranking_options else 0.0
        found, has_more = search.page(hits, threshold, limit, offset)
    return {
        "object": "vector_store.search_results.page",
        "search_query": queries,
        "data": found,
        "has_more": has_more,
        "next_page": search.page_token(offset + len(found)) if has_more else None,
    }
