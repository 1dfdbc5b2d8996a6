"""What is kept in Weaviate, one collection each: files and their bytes (base64 parts), vector
stores, a store's files, file batches, and chunks with their vectors. Every record carries its
owner (the key's scope), and every read is filtered by it: a record of another key is exactly
as missing as one that never was.

Objects have stable ids derived from the record's own id (`weaviate.object_id`), so a record is
read, replaced and deleted without a query, and attaching a file twice finds the first one."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runestone_gateway.retrieval import filters, weaviate

FILES = "RunestoneFile"
PARTS = "RunestoneFilePart"
STORES = "RunestoneVectorStore"
STORE_FILES = "RunestoneVectorStoreFile"
BATCHES = "RunestoneFileBatch"
CHUNKS = "RunestoneChunk"
log = logging.getLogger("runestone.gateway.retrieval")
MAX_LISTED = 10_000
"""Weaviate's default QUERY_MAXIMUM_RESULTS: the most one query returns."""


def _key(name: str) -> dict[str, Any]:
    return {"name": name, "dataType": ["text"], "tokenization": "field", "indexSearchable": False}


def _int(name: str) -> dict[str, Any]:
    return {"name": name, "dataType": ["int"]}


def _instant(name: str) -> dict[str, Any]:
    """Microseconds (or seconds) since the epoch: a `number`, since GraphQL's Int has 32 bits
    and a float64 holds them exactly."""
    return {"name": name, "dataType": ["number"]}


def _opaque(name: str) -> dict[str, Any]:
    """Kept and returned, never searched or filtered on."""
    return {"name": name, "dataType": ["text"], "indexFilterable": False, "indexSearchable": False}


def definitions(replication_factor: int) -> list[dict[str, Any]]:
    def collection(
        name: str, props: list[dict[str, Any]], *, vectors: bool = False
    ) -> dict[str, Any]:
        definition: dict[str, Any] = {
            "class": name,
            "vectorizer": "none",
            "properties": props,
            "replicationConfig": {"factor": replication_factor},
        }
        if vectors:
            definition["vectorIndexConfig"] = {"distance": "cosine"}
        else:
            definition["vectorIndexConfig"] = {"skip": True}
        return definition

    return [
        collection(FILES, [_key("fileId"), _key("owner"), _opaque("filename"), _int("bytes"),
                           _key("purpose"), _instant("createdUs"), _int("parts")]),
        collection(PARTS, [_key("fileId"), _int("seq"), _opaque("data")]),
        collection(STORES, [_key("storeId"), _key("owner"), _opaque("name"),
                            _instant("createdUs"), _instant("lastActiveAt"), _opaque("metadata"),
                            _opaque("expiresAfter"), _instant("expiresAt"),
                            _instant("sweptAt")]),
        collection(STORE_FILES, [_key("storeId"), _key("fileId"), _key("owner"), _key("status"),
                                 _opaque("lastError"), _opaque("attributes"), _opaque("chunking"),
                                 _int("usageBytes"), _instant("createdUs"),
                                 _instant("heartbeatUs")]),
        collection(BATCHES, [_key("batchId"), _key("storeId"), _key("owner"), _key("status"),
                             _opaque("fileIds"), _instant("createdUs")]),
        collection(
            CHUNKS,
            [_key("storeId"), _key("fileId"), _opaque("filename"), _int("seq"),
             {"name": "text", "dataType": ["text"], "tokenization": "word"},
             _opaque("attributes")],
            vectors=True,
        ),
    ]  # fmt: skip


def now_us() -> int:
    return time.time_ns() // 1000


def equal(prop: str, value: str) -> filters.Where:
    return {"path": [prop], "operator": "Equal", "valueText": value}


def all_of(*wheres: filters.Where) -> filters.Where:
    return {"operator": "And", "operands": list(wheres)}


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    has_more: bool


class Records:
    """The collections, made on first use with the configured replication factor."""

    def __init__(self, client: weaviate.Client, replication_factor: int) -> None:
        self.client = client
        self.replication_factor = replication_factor
        self._ready = False
        self._chunk_properties: frozenset[str] = frozenset()

    async def ready(self) -> None:
        """Missing collections made; collections made by an earlier version get the properties
        added since, and a raised replication factor (Weaviate cannot lower one)."""
        if self._ready:
            return
        existing = {entry["class"]: entry for entry in await self.client.schema()}
        for definition in definitions(self.replication_factor):
            found = existing.get(definition["class"])
            if found is None:
                await self.client.create_class(definition)
                continue
            have = {prop["name"] for prop in found.get("properties") or []}
            for prop in definition["properties"]:
                if prop["name"] not in have:
                    await self.client.add_property(definition["class"], prop)
            await self._replicate(found)
        self._chunk_properties = frozenset(
            prop["name"] for prop in (existing.get(CHUNKS) or {}).get("properties") or []
        )
        self._ready = True

    async def _replicate(self, found: dict[str, Any]) -> None:
        """A raised factor is asked of Weaviate, which grants it only where every shard has
        the replicas already (it copies none itself); either way the log says what stands."""
        name, wanted = found["class"], self.replication_factor
        factor = int((found.get("replicationConfig") or {}).get("factor") or 1)
        if factor < wanted:
            config = {**(found.get("replicationConfig") or {}), "factor": wanted}
            try:
                await self.client.update_class({**found, "replicationConfig": config})
            except weaviate.Unavailable as refused:
                log.warning(
                    "the replication factor of %s stays %d, not the configured %d: Weaviate "
                    "refused to raise it (%s); copy its shards' replicas to more members "
                    "(Weaviate's replication API), then the gateway raises it when it next "
                    "connects", name, factor, wanted, refused,
                )  # fmt: skip
            else:
                log.info("raised the replication factor of %s from %d to %d", name, factor, wanted)
        elif factor > wanted:
            log.warning(
                "the replication factor of %s stays %d, more than the configured %d: Weaviate "
                "cannot lower a collection's factor", name, factor, wanted,
            )  # fmt: skip

    async def chunk_properties(self, *, refresh: bool = False) -> frozenset[str]:
        if refresh:
            self._chunk_properties = frozenset((await self.client.classes()).get(CHUNKS, set()))
        return self._chunk_properties

    async def ensure_attributes(self, attributes: Mapping[str, str | float | bool]) -> None:
        """A property for each attribute's key and type (Weaviate filters need typed ones)."""
        known = await self.chunk_properties()
        for key, value in attributes.items():
            prop = filters.attribute_property(key, value)
            if prop in known:
                continue
            data_type = (
                "boolean" if isinstance(value, bool)
                else "number" if isinstance(value, int | float) else "text"
            )  # fmt: skip
            definition: dict[str, Any] = {"name": prop, "dataType": [data_type]}
            if data_type == "text":
                definition |= {"tokenization": "field", "indexSearchable": False}
            await self.client.add_property(CHUNKS, definition)
            known = self._chunk_properties = known | {prop}

    # -- one record by its id, for its owner only

    async def get(self, collection: str, record_id: str, owner: str) -> dict[str, Any] | None:
        found = await self.client.get(collection, weaviate.object_id(collection, record_id))
        if found is None or found.get("owner") != owner:
            return None
        return found

    async def put(self, collection: str, record_id: str, properties: Mapping[str, Any]) -> None:
        await self.client.put(collection, weaviate.object_id(collection, record_id), properties)

    async def merge(self, collection: str, record_id: str, properties: Mapping[str, Any]) -> None:
        await self.client.merge(collection, weaviate.object_id(collection, record_id), properties)

    async def delete(self, collection: str, record_id: str) -> None:
        await self.client.delete(collection, weaviate.object_id(collection, record_id))

    # -- queries

    async def query(
        self,
        collection: str,
        where: filters.Where,
        fields: Sequence[str],
        *,
        limit: int = MAX_LISTED,
        order: str | None = None,
    ) -> list[dict[str, Any]]:
        sort = f', sort: [{{path: ["createdUs"], order: {order}}}]' if order else ""
        query = (
            f"{{ Get {{ {collection}(where: {filters.graphql(where)}{sort}, limit: {limit}) "
            f"{{ {' '.join(fields)} }} }} }}"
        )
        data = await self.client.graphql(query)
        found: list[dict[str, Any]] = data["Get"][collection] or []
        return found

    async def page(
        self,
        collection: str,
        id_field: str,
        where: filters.Where,
        fields: Sequence[str],
        *,
        after: dict[str, Any] | None,
        limit: int,
        order: str,
    ) -> Page:
        """Newest first (`desc`) or oldest first, after the record `after`."""
        if after is not None:
            operator = "LessThan" if order == "desc" else "GreaterThan"
            where = all_of(
                where,
                {"path": ["createdUs"], "operator": operator, "valueNumber": after["createdUs"]},
            )
        # One more than the page tells whether there are more (within Weaviate's maximum).
        found = await self.query(
            collection,
            where,
            [id_field, "createdUs", *fields],
            limit=min(limit + 1, MAX_LISTED),
            order=order,
        )
        return Page(found[:limit], len(found) > limit)

    async def usage(self, owner: str) -> tuple[int, int]:
        """The owner's files: how many, and their bytes."""
        where = filters.graphql(equal("owner", owner))
        data = await self.client.graphql(
            f"{{ Aggregate {{ {FILES}(where: {where}) {{ meta {{ count }} bytes {{ sum }} }} }} }}"
        )
        rows = data["Aggregate"][FILES] or [{}]
        count = int((rows[0].get("meta") or {}).get("count") or 0)
        total = int((rows[0].get("bytes") or {}).get("sum") or 0)
        return count, total

    async def insert_chunks(self, chunks: Sequence[Mapping[str, Any]]) -> None:
        await self.client.insert_many(chunks)

    async def delete_where(self, collection: str, where: filters.Where) -> None:
        await self.client.delete_where(collection, where)


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def loads(text: object) -> Any:
    return json.loads(text) if isinstance(text, str) and text else None
