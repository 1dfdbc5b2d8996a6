"""Vector stores, their files and file batches as OpenAI's API shapes them: a store's
`file_counts`, `usage_bytes` and `status` come from its files' records when it is read, so
they are the same on every replica."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from runestone_gateway import errors
from runestone_gateway.retrieval import records

STATUSES = ("in_progress", "completed", "cancelled", "failed")
RECENT_SECONDS = 2.0
"""How long a search may use a store's record read by an earlier one of the same process."""
_FILE_FIELDS = ("fileId", "status", "usageBytes", "lastError", "attributes", "chunking")


def not_found(store_id: str) -> errors.GatewayError:
    return errors.invalid(
        f"No vector store found with id '{store_id}'.", code="vector_store_not_found", status=404
    )


def file_not_found(store_id: str, file_id: str) -> errors.GatewayError:
    return errors.invalid(
        f"No file found with id '{file_id}' in vector store '{store_id}'.",
        code="file_not_found",
        status=404,
    )


def counts(files: list[dict[str, Any]]) -> dict[str, int]:
    found = dict.fromkeys(STATUSES, 0)
    for file in files:
        found[file["status"]] = found.get(file["status"], 0) + 1
    return {**found, "total": len(files)}


async def files_of(store: records.Records, store_id: str) -> list[dict[str, Any]]:
    return await store.query(
        records.STORE_FILES, records.equal("storeId", store_id), ["status", "usageBytes", "fileId"]
    )


def last_active(record: dict[str, Any]) -> int:
    return int(record.get("lastActiveAt") or record["createdUs"] // 1_000_000)


def expires_at(record: dict[str, Any]) -> int | None:
    expires_after = records.loads(record.get("expiresAfter"))
    return last_active(record) + expires_after["days"] * 86400 if expires_after else None


def expired(record: dict[str, Any], now: float | None = None) -> bool:
    """Past its expiry, or swept already (the sweeper deleted its chunks)."""
    when = expires_at(record)
    now = time.time() if now is None else now
    return bool(record.get("sweptAt")) or (when is not None and when <= now)


ACTIVITY_STEP = 60
"""Seconds a store's `lastActiveAt` may lag its latest use. A use within them writes nothing,
so a busy store's searches are reads only; expiry counts in days, so a minute is never felt."""


def activity_due(record: dict[str, Any], now: int) -> bool:
    """Whether a use at `now` moves the store's record on (a use after its last one's step)."""
    return now - last_active(record) >= ACTIVITY_STEP


def activity(record: dict[str, Any], now: int) -> dict[str, Any]:
    """What a use of the store changes in its record: `lastActiveAt`, and `expiresAt`, which
    the sweeper looks for (0: never)."""
    active = {**record, "lastActiveAt": now}
    return {"lastActiveAt": now, "expiresAt": expires_at(active) or 0, "sweptAt": 0}


def check_usable(record: dict[str, Any]) -> None:
    """An expired store is kept (it can be read, listed and deleted) but never used again."""
    if expired(record):
        raise errors.invalid(
            f"Vector store '{record['storeId']}' expired at {expires_at(record)} (its "
            f"expires_after policy); it can no longer be used. Delete it or create another.",
            code="vector_store_expired",
        )


async def body(store: records.Records, record: dict[str, Any]) -> dict[str, Any]:
    files = await files_of(store, record["storeId"])
    file_counts = counts(files)
    status = (
        "expired" if expired(record)
        else "in_progress" if file_counts["in_progress"] else "completed"
    )  # fmt: skip
    return {
        "id": record["storeId"],
        "object": "vector_store",
        "created_at": int(record["createdUs"] // 1_000_000),
        "name": record.get("name") or "",
        "usage_bytes": sum(file.get("usageBytes") or 0 for file in files),
        "file_counts": file_counts,
        "status": status,
        "expires_after": records.loads(record.get("expiresAfter")),
        "expires_at": expires_at(record),
        "last_active_at": last_active(record),
        "metadata": records.loads(record.get("metadata")) or {},
    }


def file_body(store_id: str, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["fileId"],
        "object": "vector_store.file",
        "created_at": int(record["createdUs"] // 1_000_000),
        "vector_store_id": store_id,
        "status": record["status"],
        "usage_bytes": record.get("usageBytes") or 0,
        "last_error": records.loads(record.get("lastError")),
        "attributes": records.loads(record.get("attributes")) or {},
        "chunking_strategy": records.loads(record.get("chunking")),
    }


def store_file_key(store_id: str, file_id: str) -> str:
    return f"{store_id}:{file_id}"


async def batch_body(store: records.Records, record: dict[str, Any]) -> dict[str, Any]:
    wanted = set(records.loads(record["fileIds"]) or [])
    files = [f for f in await files_of(store, record["storeId"]) if f["fileId"] in wanted]
    file_counts = counts(files)
    status = record["status"]
    if status == "in_progress" and not file_counts["in_progress"]:
        status = "failed" if file_counts["failed"] and not file_counts["completed"] else "completed"
    return {
        "id": record["batchId"],
        "object": "vector_store.files_batch",
        "created_at": int(record["createdUs"] // 1_000_000),
        "vector_store_id": record["storeId"],
        "status": status,
        "file_counts": file_counts,
    }


class Recent:
    """Store records this process read in the last `ttl` seconds, by owner and id, for searches
    (a store searched many times a second is read once a `ttl`). A store this process modifies
    or deletes is forgotten at once; another replica's change is seen within `ttl` (a store
    deleted there answers empty searches here until then: its chunks are gone)."""

    def __init__(self, ttl: float = RECENT_SECONDS, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._items: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()

    def get(self, owner: str, store_id: str, now: float) -> dict[str, Any] | None:
        found = self._items.get((owner, store_id))
        if found is None or now - found[0] >= self.ttl:
            return None
        return found[1]

    def put(self, owner: str, store_id: str, record: dict[str, Any], now: float) -> None:
        self._items[(owner, store_id)] = (now, record)
        self._items.move_to_end((owner, store_id))
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def forget(self, store_id: str) -> None:
        for key in [key for key in self._items if key[1] == store_id]:
            del self._items[key]
