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
WRITE_BATCH = 64


@dataclass(frozen=True)
class Job:
    store_id: str
    file: dict[str, Any]
    """The file's record."""
    attributes: dict[str, str | float | bool]
    chunking: config.Chunking


async def run(store: records.Records, job: Job, embed: Embedder) -> None:
    key = f"{job.store_id}:{job.file['fileId']}"
    try:
        usage = await _ingest(store, job, embed)
    except extract.Unreadable as error:
        await _fail(store, key, error.code, error.message)
    except errors.GatewayError as error:
        await _fail(store, key, "server_error", f"Embedding failed: {error.message}")
    except weaviate.Unavailable as error:
        log.warning("ingesting %s failed: %s", key, error)
        await _fail(store, key, "server_error", "The vector store could not be written.")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("ingesting %s failed unexpectedly", key)
        await _fail(store, key, "server_error", "The file could not be ingested.")
    else:
        try:
            if await _gone(store, key):  # detached while it was ingested
                await forget_chunks(store, job.store_id, job.file["fileId"])
                return
            await store.merge(
                records.STORE_FILES, key, {"status": "completed", "usageBytes": usage}
            )
        except weaviate.Unavailable as error:
            log.warning("could not mark %s completed: %s", key, error)


async def _ingest(store: records.Records, job: Job, embed: Embedder) -> int:
    file_id = job.file["fileId"]
    data = await files.read_all(store, job.file)
    text = await asyncio.to_thread(extract.text, job.file["filename"], data)
    pieces = chunking.chunks(text, job.chunking)
    await store.ensure_attributes(job.attributes)
    await forget_chunks(store, job.store_id, file_id)  # a retried ingestion starts afresh
    attributes = {
        filters.attribute_property(name, value): float(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else value
        for name, value in job.attributes.items()
    }
    for start in range(0, len(pieces), WRITE_BATCH):
        batch = pieces[start : start + WRITE_BATCH]
        vectors = await embed(batch)
        await store.insert_chunks(
            [
                {
                    "class": records.CHUNKS,
                    "id": weaviate.object_id(records.CHUNKS, job.store_id, file_id, str(seq)),
                    "vector": vector,
                    "properties": {
                        "storeId": job.store_id,
                        "fileId": file_id,
                        "filename": job.file["filename"],
                        "seq": seq,
                        "text": piece,
                        "attributes": records.dumps(job.attributes),
                        **attributes,
                    },
                }
                for seq, (piece, vector) in enumerate(zip(batch, vectors, strict=True), start)
            ]
        )
    return sum(len(piece.encode()) for piece in pieces)


async def _fail(store: records.Records, key: str, code: str, message: str) -> None:
    error = records.dumps({"code": code, "message": message})
    try:
        await store.merge(records.STORE_FILES, key, {"status": "failed", "lastError": error})
    except weaviate.Unavailable as unavailable:
        log.warning("could not mark %s failed: %s", key, unavailable)


async def _gone(store: records.Records, key: str) -> bool:
    found = await store.client.get(
        records.STORE_FILES, weaviate.object_id(records.STORE_FILES, key)
    )
    return found is None


async def forget_chunks(store: records.Records, store_id: str, file_id: str) -> None:
    await store.delete_where(
        records.CHUNKS,
        records.all_of(records.equal("storeId", store_id), records.equal("fileId", file_id)),
    )
