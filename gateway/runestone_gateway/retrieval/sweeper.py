"""What every gateway process does in the background, a bounded amount per sweep: the chunks of
expired stores deleted, and ingestions whose process died (their file's heartbeat is stale)
taken over. Each step is idempotent, so several processes sweeping at once do the same work
twice at worst, never harm: deleting what is gone deletes nothing, and an ingestion writes
chunks with ids of their own (two racing ingestions write the same objects)."""

from __future__ import annotations

import time
from typing import Any

from runestone_gateway.retrieval import records, stores

STORES_PER_SWEEP = 20
"""Expired stores looked at per sweep; each gets one batch delete (Weaviate bounds it)."""
FILES_PER_SWEEP = 10
"""Abandoned ingestions taken over per sweep."""
STALE_BEATS = 3
"""Heartbeats missed before an ingestion counts as abandoned."""


async def expired_stores(store: records.Records, now: float | None = None) -> int:
    """One round of deletes for expired stores whose chunks are not all gone yet; a store
    found with none left is marked swept (and not looked at again). How many chunks went."""
    now = time.time() if now is None else now
    where = records.all_of(
        {"path": ["expiresAt"], "operator": "GreaterThan", "valueNumber": 0},
        {"path": ["expiresAt"], "operator": "LessThanEqual", "valueNumber": now},
        {"path": ["sweptAt"], "operator": "Equal", "valueNumber": 0},
    )
    found = await store.query(records.STORES, where, ["storeId"], limit=STORES_PER_SWEEP)
    deleted = 0
    for expired in found:
        store_id = expired["storeId"]
        gone = await store.client.delete_round(records.CHUNKS, records.equal("storeId", store_id))
        if not gone:
            await store.merge(records.STORES, store_id, {"sweptAt": int(now)})
        deleted += gone
    return deleted


async def abandoned(store: records.Records, heartbeat_seconds: float) -> list[dict[str, Any]]:
    """Files still `in_progress` whose ingester has not marked them alive for a while, each
    claimed for this process (its heartbeat renewed) before it is handed back."""
    stale = records.now_us() - int(STALE_BEATS * heartbeat_seconds * 1_000_000)
    where = records.all_of(
        records.equal("status", "in_progress"),
        {"path": ["heartbeatUs"], "operator": "LessThan", "valueNumber": stale},
    )
    fields = ["storeId", "fileId", "owner", "attributes", "chunking"]
    found = await store.query(records.STORE_FILES, where, fields, limit=FILES_PER_SWEEP)
    for file in found:
        key = stores.store_file_key(file["storeId"], file["fileId"])
        await store.merge(records.STORE_FILES, key, {"heartbeatUs": records.now_us()})
    return found
