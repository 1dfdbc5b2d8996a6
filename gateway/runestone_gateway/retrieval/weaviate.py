"""A small async client of Weaviate's REST and GraphQL API: what the records of `records` need,
and nothing else. One per config generation's Weaviate settings; closed when they change.

Failures raise `Unavailable` with a message that is safe to show (never the key, never the
objects' text). A call that fails for a passing reason (`passing`) is made again a few times
first (`retrying`): every call the records make can be repeated without harm (objects have
fixed ids, a write replaces or merges the same properties, a delete of what is gone is a
no-op)."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import aiohttp
import orjson

T = TypeVar("T")
TIMEOUT_SECONDS = 30.0
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)
"""The waits before each repeat of a call that failed for a passing reason: nearly 8 s in all,
longer than a member takes to be seen gone, or to be repaired by the reads that find it behind,
and about as long as the members left take to elect a Raft leader when the leader dies
(Weaviate's heartbeat and election timeouts are 5 s each)."""
LEADER_LOST = ("failed to execute query", "rpc error", "leader not found", "not the leader")
"""What Weaviate says when a call failed because the Raft leader could not be asked. By default
(`COLLECTION_RETRIEVAL_STRATEGY=LeaderOnly`) a member asks the leader for a collection's
definition on writes, and answers a failed ask with 422 or 500: a leader killed mid-call
gives "failed to execute query: rpc error: ... the client connection is closing"."""
_NAMESPACE = uuid.UUID("0e9c4a3e-5d8f-4f3f-9f5c-7d1b8a6c2e10")
log = logging.getLogger("runestone.gateway.retrieval")


def object_id(*parts: str) -> str:
    """A stable Weaviate object id for a record's own id (files, stores, chunks...)."""
    return str(uuid.uuid5(_NAMESPACE, "\x00".join(parts)))


class Unavailable(Exception):
    """Weaviate could not be reached or refused a request; `passing` when asking again may
    succeed."""

    def __init__(self, message: str, *, passing: bool = False) -> None:
        super().__init__(message)
        self.passing = passing


class DimensionsMismatch(Unavailable):
    """Vectors not of the length the collection's index holds: the chunks were embedded with
    another model (an earlier embedding model, or another Gateway's on the same VectorCluster).
    Asking again never helps."""

    def __init__(self, detail: str, stored: int | None, given: int | None) -> None:
        super().__init__(detail)
        self.stored = stored
        self.given = given

    def explained(self) -> str:
        """What went wrong and what to do, safe to answer."""
        if self.stored is not None and self.given is not None:
            sizes = (
                f"The vector store keeps {self.stored}-dimensional vectors, but this gateway's "
                f"embedding model gives {self.given}-dimensional ones"
            )
        else:
            sizes = (
                "The vector store keeps vectors of another size than this gateway's embedding "
                "model gives"
            )
        return (
            f"{sizes}: one VectorCluster holds the chunks of one embedding model. Use the model "
            "its chunks were made with, or another VectorCluster."
        )


_SEARCHED = re.compile(r"(\d+) vs (\d+): vector lengths don't match")
"""A search with a query vector of another length: `<stored> vs <given>`."""
_WRITTEN = re.compile(r"vector with length (\d+)\. Existing nodes have vectors with length (\d+)")
"""A write of a vector of another length: `<given> ... <stored>`."""


def mismatch(detail: str) -> DimensionsMismatch | None:
    """The mismatch Weaviate's error `detail` reports, if it reports one."""
    if found := _SEARCHED.search(detail):
        return DimensionsMismatch(detail, int(found[1]), int(found[2]))
    if found := _WRITTEN.search(detail):
        return DimensionsMismatch(detail, int(found[2]), int(found[1]))
    if "vector dimensions do not match" in detail or "vector lengths don't match" in detail:
        return DimensionsMismatch(detail, None, None)
    return None


def passing(status: int | None, detail: str = "") -> bool:
    """Whether a call that failed this way may succeed when made again: no answer at all (the
    connection refused or cut: a member going away or coming back), a 5xx, or any answer that
    says the Raft leader could not be asked (`LEADER_LOST`). With replicas, Weaviate answers 500
    while a write or a read cannot reach enough of them, or when a read that repairs a replica
    left behind meets a concurrent write of the same object ("read repair error ...
    conflict"): these pass. Any other 4xx is the request's own fault and a timeout has waited
    long enough; neither is repeated."""
    return status is None or status >= 500 or any(words in detail for words in LEADER_LOST)


async def retrying(
    attempt: Callable[[], Awaitable[T]], delays: Sequence[float] = RETRY_DELAYS
) -> T:
    """`attempt()`, made again after each of `delays` while it fails for a passing reason."""
    for delay in delays:
        try:
            return await attempt()
        except Unavailable as error:
            if not error.passing:
                raise
            log.info("Weaviate: %s; asking again in %.1fs", error, delay)
        await asyncio.sleep(delay)
    return await attempt()


class Client:
    def __init__(
        self,
        url: str,
        api_key: str | None,
        ca_pem: str | None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.url = url.rstrip("/")
        self.retry_delays = retry_delays
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
        return await retrying(lambda: self._once(method, path, data, missing_ok), self.retry_delays)

    async def _once(self, method: str, path: str, data: bytes | None, missing_ok: bool) -> Any:
        where = f"{method} {path.split('?')[0]}"
        try:
            async with self._session.request(method, self.url + path, data=data) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            raise Unavailable(f"{where}: no answer in {TIMEOUT_SECONDS:g}s") from None
        except aiohttp.ClientError as error:
            raise Unavailable(f"{where}: {type(error).__name__}", passing=passing(None)) from None
        if status == 404 and missing_ok:
            return None
        if status >= 400:
            detail = raw[:300].decode("utf-8", "replace").strip()
            raise Unavailable(f"{where}: {status} {detail}", passing=passing(status, detail))
        return orjson.loads(raw) if raw else None

    async def graphql(self, query: str) -> dict[str, Any]:
        answer = await self.call("POST", "/v1/graphql", {"query": query})
        problems = answer.get("errors") if isinstance(answer, dict) else None
        if problems:
            detail = f"graphql: {problems[0].get('message', problems[0])}"
            raise mismatch(detail) or Unavailable(detail)
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
            try:
                await self.call("POST", "/v1/objects?consistency_level=QUORUM", body)
            except Unavailable as error:
                # An attempt whose answer was lost made it: replaced as it now exists.
                if "already exists" not in str(error):
                    raise
                await self.call("PUT", f"/v1/objects/{collection}/{object_id}"
                                "?consistency_level=QUORUM", body)  # fmt: skip

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
        """Every object written (created or replaced by its id). Weaviate answers a batch 200
        and says per object which failed (too few replicas reached, say): those are written
        again, as a failed call is."""
        pending = list(objects)

        async def attempt() -> None:
            nonlocal pending
            try:
                answer = await self.call("POST", "/v1/batch/objects?consistency_level=QUORUM",
                                         {"objects": pending})  # fmt: skip
            except Unavailable as unavailable:  # the call was made again already
                raise Unavailable(str(unavailable)) from None
            failed = [
                (item, problems[0].get("message", problems[0]))
                for item, result in zip(pending, answer or [], strict=False)
                if (problems := ((result.get("result") or {}).get("errors") or {}).get("error"))
            ]
            if failed:
                pending = [item for item, _ in failed]
                if (wrong := mismatch(str(failed[0][1]))) is not None:
                    raise wrong
                raise Unavailable(
                    f"batch insert: {len(failed)} objects failed: {failed[0][1]}", passing=True
                )

        await retrying(attempt, self.retry_delays)

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
