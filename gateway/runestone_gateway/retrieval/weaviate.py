"""A small async client of Weaviate's REST and GraphQL API: what the records of `records` need,
and nothing else. One per config generation's Weaviate settings; closed when they change.

Failures raise `Unavailable` with a message that is safe to show (never the key, never the
objects' text)."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson

TIMEOUT_SECONDS = 30.0
_NAMESPACE = uuid.UUID("0e9c4a3e-5d8f-4f3f-9f5c-7d1b8a6c2e10")


def object_id(*parts: str) -> str:
    """A stable Weaviate object id for a record's own id (files, stores, chunks...)."""
    return str(uuid.uuid5(_NAMESPACE, "\x00".join(parts)))


class Unavailable(Exception):
    """Weaviate could not be reached or refused a request."""


class Client:
    def __init__(self, url: str, api_key: str | None, ca_pem: str | None) -> None:
        self.url = url.rstrip("/")
        headers = {"content-type": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        context: ssl.SSLContext | bool = True
        if ca_pem:
            context = ssl.create_default_context(cadata=ca_pem)
        self._session = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            connector=aiohttp.TCPConnector(ssl=context, limit=32),
            json_serialize=lambda value: orjson.dumps(value).decode(),
        )

    async def close(self) -> None:
        await self._session.close()

    async def call(
        self, method: str, path: str, body: object = None, *, missing_ok: bool = False
    ) -> Any:
        """The JSON answer; None for 404 when `missing_ok` (and for empty answers)."""
        data = None if body is None else orjson.dumps(body)
        try:
            async with self._session.request(method, self.url + path, data=data) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise Unavailable(f"{method} {path.split('?')[0]}: {type(error).__name__}") from None
        if status == 404 and missing_ok:
            return None
        if status >= 400:
            detail = raw[:300].decode("utf-8", "replace")
            raise Unavailable(f"{method} {path.split('?')[0]}: {status} {detail}")
        return orjson.loads(raw) if raw else None

    async def graphql(self, query: str) -> dict[str, Any]:
        answer = await self.call("POST", "/v1/graphql", {"query": query})
        problems = answer.get("errors") if isinstance(answer, dict) else None
        if problems:
            raise Unavailable(f"graphql: {problems[0].get('message', problems[0])}")
        data: dict[str, Any] = answer["data"]
        return data

    async def schema(self) -> list[dict[str, Any]]:
        """Every collection's definition."""
        schema = await self.call("GET", "/v1/schema")
        return list(schema.get("classes") or [])

    async def classes(self) -> dict[str, set[str]]:
        """Each collection's property names."""
        return {
            entry["class"]: {prop["name"] for prop in entry.get("properties") or []}
            for entry in await self.schema()
        }

    async def update_class(self, definition: Mapping[str, Any]) -> None:
        await self.call("PUT", f"/v1/schema/{definition['class']}", definition)

    async def create_class(self, definition: Mapping[str, Any]) -> None:
        try:
            await self.call("POST", "/v1/schema", definition)
        except Unavailable as error:
            if "already exists" not in str(error):  # another replica made it first
                raise

    async def add_property(self, collection: str, prop: Mapping[str, Any]) -> None:
        try:
            await self.call("POST", f"/v1/schema/{collection}/properties", prop)
        except Unavailable as error:
            if "already exists" not in str(error):
                raise

    async def get(self, collection: str, object_id: str) -> dict[str, Any] | None:
        found = await self.call(
            "GET", f"/v1/objects/{collection}/{object_id}?consistency_level=QUORUM",
            missing_ok=True,
        )  # fmt: skip
        return None if found is None else dict(found.get("properties") or {})

    async def put(self, collection: str, object_id: str, properties: Mapping[str, Any]) -> None:
        """Create or replace one object."""
        body = {"class": collection, "id": object_id, "properties": properties}
        created = await self.call(
            "PUT", f"/v1/objects/{collection}/{object_id}?consistency_level=QUORUM", body,
            missing_ok=True,
        )  # fmt: skip
        if created is None:
            await self.call("POST", "/v1/objects?consistency_level=QUORUM", body)

    async def merge(self, collection: str, object_id: str, properties: Mapping[str, Any]) -> None:
        body = {"class": collection, "id": object_id, "properties": properties}
        await self.call(
            "PATCH", f"/v1/objects/{collection}/{object_id}?consistency_level=QUORUM", body
        )

    async def delete(self, collection: str, object_id: str) -> None:
        await self.call(
            "DELETE", f"/v1/objects/{collection}/{object_id}?consistency_level=QUORUM",
            missing_ok=True,
        )  # fmt: skip

    async def insert_many(self, objects: Sequence[Mapping[str, Any]]) -> None:
        answer = await self.call("POST", "/v1/batch/objects?consistency_level=QUORUM",
                                 {"objects": list(objects)})  # fmt: skip
        for result in answer or []:
            failed = ((result.get("result") or {}).get("errors") or {}).get("error")
            if failed:
                raise Unavailable(f"batch insert: {failed[0].get('message', failed[0])}")

    async def delete_where(self, collection: str, where: Mapping[str, Any]) -> None:
        """Every object that matches; in rounds, since one batch deletes a bounded number."""
        while await self.delete_round(collection, where):
            pass

    async def delete_round(self, collection: str, where: Mapping[str, Any]) -> int:
        """One batch delete of what matches (Weaviate bounds it): how many it deleted."""
        body = {"match": {"class": collection, "where": where}, "output": "minimal"}
        answer = await self.call("DELETE", "/v1/batch/objects?consistency_level=QUORUM", body)
        results = (answer or {}).get("results") or {}
        return int(results.get("successful") or 0) if results.get("matches") else 0
