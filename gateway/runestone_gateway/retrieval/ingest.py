"""Ingesting one file into one vector store, in the background: its text extracted, cut into
chunks, embedded through the gateway's own route (charged to the key that attached the file),
written to Weaviate with the file's attributes, then the store's file record marked `completed`,
or `failed` with OpenAI's `last_error` {code, message}. Whatever goes wrong fails that file only.
Document text never reaches the log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runestone_gateway import config, errors
from runestone_gateway.retrieval import chunking, extract, files, filters, records, weaviate

log = logging.getLogger("runestone.gateway.retrieval")

Embedder = Callable[[Sequence[str]], Awaitable[list[list[float]]]]
Attributes = dict[str, str | float | bool]
WRITE_BATCH = 64
EMBED_PAUSES = (1.0, 4.0)
"""Seconds before each new try of an embedding call that failed for a passing reason."""
PASSING = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses worth another try (an exhausted budget, `insufficient_quota`, is not)."""


@dataclass(frozen=True)
class Job:
    store_id: str
    file: dict[str, Any]
    """The file's record."""
    attributes: Attributes
    """As the file was attached; the record's own are read again before each write."""
    chunking: config.Chunking


async def run(store: records.Records, job: Job, embed: Embedder, heartbeat_seconds: float) -> None:
    """Ingest, marking the file's record alive every `heartbeat_seconds` so that no other
    process takes it over (`sweeper`) while this one lives."""
    key = f"{job.store_id}:{job.file['fileId']}"
    beating = asyncio.ensure_future(_heartbeat(store, key, heartbeat_seconds))
    try:
        await _run(store, job, embed, key)
    finally:
        beating.cancel()


async def _heartbeat(store: records.Records, key: str, interval: float) -> None:
    while True:
        try:
            await store.merge(records.STORE_FILES, key, {"heartbeatUs": records.now_us()})
        except weaviate.Unavailable as error:  # detached, or Weaviate away: the next beat
            log.warning("could not mark %s alive: %s", key, error)
        await asyncio.sleep(interval)


async def _run(store: records.Records, job: Job, embed: Embedder, key: str) -> None:
    try:
        usage = await _ingest(store, job, embed, key)
    except extract.Unreadable as error:
        await _fail(store, key, error.code, error.message)
    except errors.GatewayError as error:
        await _fail(store, key, "server_error", f"Embedding failed: {error.message}")
    except weaviate.DimensionsMismatch as error:
        log.warning("ingesting %s failed: %s", key, error)
        await _fail(store, key, "server_error", error.explained())
    except weaviate.Unavailable as error:
        log.warning("ingesting %s failed: %s", key, error)
        await _fail(store, key, "server_error", "The vector store could not be written.")
    except _Stopped:
        return
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("ingesting %s failed unexpectedly", key)
        await _fail(store, key, "server_error", "The file could not be ingested.")
    else:
        try:
            await store.merge(
                records.STORE_FILES, key, {"status": "completed", "usageBytes": usage}
            )
        except weaviate.Unavailable as error:
            log.warning("could not mark %s completed: %s", key, error)


class _Stopped(Exception):
    """The file was detached, cancelled or finished elsewhere while it was ingested."""


async def _wanted(store: records.Records, job: Job, key: str) -> Attributes:
    """The file's attributes as its record holds them now (they may have been updated), or
    `_Stopped` when the record no longer asks for this ingestion."""
    found = await store.client.get(
        records.STORE_FILES, weaviate.object_id(records.STORE_FILES, key)
    )
    if found is None:  # detached: what was written goes too
        await forget_chunks(store, job.store_id, job.file["fileId"])
        raise _Stopped
    if found.get("status") != "in_progress":
        raise _Stopped
    attributes: Attributes = records.loads(found.get("attributes")) or {}
    return attributes


async def _ingest(store: records.Records, job: Job, embed: Embedder, key: str) -> int:
    file_id = job.file["fileId"]
    data = await files.read_all(store, job.file)
    text = await asyncio.to_thread(extract.text, job.file["filename"], data)
    pieces = chunking.chunks(text, job.chunking)
    await forget_chunks(store, job.store_id, file_id)  # a retried ingestion starts afresh
    written: Attributes = job.attributes
    for start in range(0, len(pieces), WRITE_BATCH):
        batch = pieces[start : start + WRITE_BATCH]
        vectors = await _embedded(embed, batch)
        written = await _wanted(store, job, key)
        await store.ensure_attributes(written)
        await store.insert_chunks(
            [
                chunk_object(job.store_id, job.file, seq, piece, vector, written)
                for seq, (piece, vector) in enumerate(zip(batch, vectors, strict=True), start)
            ]
        )
    # An update of the attributes while the chunks were written may have missed some.
    if await _wanted(store, job, key) != written:
        await rewrite_attributes(store, job.store_id, file_id)
    return sum(len(piece.encode()) for piece in pieces)


async def _embedded(embed: Embedder, batch: Sequence[str]) -> list[list[float]]:
    """The batch's vectors; an embedding call refused for a passing reason (the provider slow
    or away, the key's rate limit) is tried again after a pause, twice, before the file fails."""
    for pause in (*EMBED_PAUSES, None):
        try:
            return await embed(batch)
        except errors.GatewayError as error:
            if pause is None or error.status not in PASSING:
                raise
            if error.code == errors.INSUFFICIENT_QUOTA:
                raise
            log.warning("embedding for an ingestion answered %d; trying again", error.status)
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")


def chunk_object(
    store_id: str,
    file: dict[str, Any],
    seq: int,
    text: str,
    vector: Sequence[float],
    attributes: Attributes,
) -> dict[str, Any]:
    """One chunk as Weaviate keeps it: its text and vector, and the file's attributes both as
    given (returned by search) and one typed property each (filtered on)."""
    typed = {
        filters.attribute_property(name, value): float(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else value
        for name, value in attributes.items()
    }
    return {
        "class": records.CHUNKS,
        "id": weaviate.object_id(records.CHUNKS, store_id, file["fileId"], str(seq)),
        "vector": list(vector),
        "properties": {
            "storeId": store_id,
            "fileId": file["fileId"],
            "filename": file["filename"],
            "seq": seq,
            "text": text,
            "attributes": records.dumps(attributes),
            **typed,
        },
    }


REWRITE_BATCH = 100


async def rewrite_attributes(store: records.Records, store_id: str, file_id: str) -> None:
    """The file's chunks rewritten whole with the attributes its record holds now, in batches
    by `seq`: a whole-object write drops the typed properties of attributes that went."""
    key = f"{store_id}:{file_id}"
    found = await store.client.get(
        records.STORE_FILES, weaviate.object_id(records.STORE_FILES, key)
    )
    if found is None:
        return
    attributes: Attributes = records.loads(found.get("attributes")) or {}
    await store.ensure_attributes(attributes)
    mine = records.all_of(records.equal("storeId", store_id), records.equal("fileId", file_id))
    seq = 0
    while True:
        where = records.all_of(
            mine, {"path": ["seq"], "operator": "GreaterThanEqual", "valueInt": seq}
        )
        query = (
            f"{{ Get {{ {records.CHUNKS}(where: {filters.graphql(where)}, "
            f'sort: [{{path: ["seq"], order: asc}}], limit: {REWRITE_BATCH}) '
            f"{{ filename seq text _additional {{ vector }} }} }} }}"
        )
        chunks = (await store.client.graphql(query))["Get"][records.CHUNKS] or []
        if not chunks:
            return
        file = {"fileId": file_id, "filename": chunks[0]["filename"]}
        await store.insert_chunks(
            [
                chunk_object(store_id, file, int(chunk["seq"]), chunk["text"],
                             chunk["_additional"]["vector"], attributes)
                for chunk in chunks
            ]
        )  # fmt: skip
        seq = int(chunks[-1]["seq"]) + 1


async def _fail(store: records.Records, key: str, code: str, message: str) -> None:
    error = records.dumps({"code": code, "message": message})
    try:
        await store.merge(records.STORE_FILES, key, {"status": "failed", "lastError": error})
    except weaviate.Unavailable as unavailable:
        log.warning("could not mark %s failed: %s", key, unavailable)


async def forget_chunks(store: records.Records, store_id: str, file_id: str) -> None:
    await store.delete_where(
        records.CHUNKS,
        records.all_of(records.equal("storeId", store_id), records.equal("fileId", file_id)),
    )
