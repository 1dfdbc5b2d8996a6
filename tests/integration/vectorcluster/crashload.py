"""Writing to a VectorCluster's members as an application would while one of them dies, and
checking afterwards what each member holds by id and what its searches find.

Objects get random ids and random 32-dimension vectors, so an exact-vector search has one right
answer. Writes are batches with `consistency_level=QUORUM`, through the live members in turn (as
a client behind the Service), a failed batch retried through another member; an object counts as
acknowledged when a batch answer listed it without an error. Searches through a member run on
that member's own replicas (Weaviate prefers the local replica of each shard), so a search
through the killed member asks its own index."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

COLLECTION = "Crash"
DIMENSIONS = 32
SEARCH_LIMIT = 10
SEARCHES_PER_QUERY = 25
"""Exact-vector searches sent in one GraphQL query, one aliased `Get` each."""
READ_ATTEMPTS = 3


@dataclass(frozen=True)
class Item:
    id: str
    seq: int
    vector: tuple[float, ...]


def items(count: int, rng: random.Random) -> list[Item]:
    return [
        Item(
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            seq,
            tuple(round(rng.gauss(0, 1), 5) for _ in range(DIMENSIONS)),
        )
        for seq in range(count)
    ]


class Members:
    """Weaviate's REST API at each member (plain HTTP at its pod address), over one pool of
    kept-alive connections shared by the writer and checker threads."""

    def __init__(self, urls: dict[str, str], api_key: str) -> None:
        self.urls = urls
        self.http = httpx.Client(
            timeout=60,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )

    def close(self) -> None:
        self.http.close()

    def _read(self, method: str, url: str, **options: Any) -> httpx.Response:
        """A call that only reads, made again (up to READ_ATTEMPTS in all) when its kept-alive
        connection breaks under it: a connection to a member killed and started again, or one
        closed while the pool handed it out (seen once as EBADF on a read). Writes are not
        repeated here: the writer counts what each batch acknowledged."""
        for attempt in range(1, READ_ATTEMPTS):
            try:
                return self.http.request(method, url, **options)
            except httpx.TransportError:
                time.sleep(0.2 * attempt)
        return self.http.request(method, url, **options)

    def create_collection(self, via: str) -> None:
        body = {
            "class": COLLECTION,
            "vectorizer": "none",
            "replicationConfig": {"factor": len(self.urls)},
            "properties": [{"name": "seq", "dataType": ["int"]}],
        }
        self.http.post(f"{self.urls[via]}/v1/schema", json=body).raise_for_status()

    def shards(self, member: str) -> list[dict[str, Any]]:
        """The member's own shards of the collection, as `/v1/nodes?output=verbose` lists them."""
        answer = self._read("GET", f"{self.urls[member]}/v1/nodes", params={"output": "verbose"})
        answer.raise_for_status()
        node = next(n for n in answer.json()["nodes"] if n["name"] == member)
        return [s for s in node.get("shards") or [] if s["class"] == COLLECTION]

    def write(self, via: str, batch: Sequence[Item]) -> list[Item]:
        """One QUORUM batch through `via`; the items it acknowledged. Raises on a failed call."""
        body = {
            "objects": [
                {
                    "class": COLLECTION,
                    "id": item.id,
                    "properties": {"seq": item.seq},
                    "vector": list(item.vector),
                }
                for item in batch
            ]
        }
        answer = self.http.post(
            f"{self.urls[via]}/v1/batch/objects",
            json=body,
            params={"consistency_level": "QUORUM"},
        )
        answer.raise_for_status()
        results = answer.json()
        return [
            item
            for item, result in zip(batch, results, strict=True)
            if not (result.get("result") or {}).get("errors")
        ]

    def _own_copy(self, member: str, item_id: str) -> dict[str, Any] | None:
        """The object as the member's own replica holds it (`node_name`: no other is asked), or
        None where it does not."""
        answer = self._read(
            "GET",
            f"{self.urls[member]}/v1/objects/{COLLECTION}/{item_id}",
            params={"node_name": member},
        )
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def holds(self, member: str, item: Item) -> bool:
        """Whether the member's own replica holds the object."""
        return self._own_copy(member, item.id) is not None

    def copies(self, item_id: str) -> dict[str, list[int | None] | None]:
        """Each member's own copy of an object: [creationTimeUnix, lastUpdateTimeUnix], or None
        where the member does not hold it."""
        return {
            member: None
            if (copy := self._own_copy(member, item_id)) is None
            else [copy.get("creationTimeUnix"), copy.get("lastUpdateTimeUnix")]
            for member in self.urls
        }

    def found(self, member: str, batch: Sequence[Item]) -> set[str]:
        """The ids of `batch` that an exact-vector search through the member finds among its
        first SEARCH_LIMIT hits, one search per item."""
        fields = " ".join(
            f"s{n}: {COLLECTION}(nearVector: {{vector: {list(item.vector)}}}, "
            f"limit: {SEARCH_LIMIT}) {{ _additional {{ id }} }}"
            for n, item in enumerate(batch)
        )
        data = self._graphql(member, f"{{ Get {{ {fields} }} }}")
        return {
            item.id
            for n, item in enumerate(batch)
            if item.id in {hit["_additional"]["id"] for hit in data[f"s{n}"]}
        }

    def indexed(self, member: str, item: Item) -> bool:
        """Whether the item's vector is in the member's index at all: a search filtered to its id
        is a flat search over that one document, which finds it whatever the graph's links, and
        skips it when the index has no vector for it."""
        query = (
            f"{{ Get {{ {COLLECTION}(nearVector: {{vector: {list(item.vector)}}}, "
            f'where: {{path: ["id"], operator: Equal, valueText: "{item.id}"}}, limit: 1) '
            f"{{ _additional {{ id }} }} }} }}"
        )
        return bool(self._graphql(member, query)[COLLECTION])

    def _graphql(self, member: str, query: str) -> dict[str, Any]:
        answer = self._read("POST", f"{self.urls[member]}/v1/graphql", json={"query": query})
        if answer.status_code != 200:
            detail = f"{answer.status_code} {answer.text[:300]}"
            raise RuntimeError(f"GraphQL through {member}: {detail}")
        body = answer.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL through {member}: {json.dumps(body['errors'])[:300]}")
        data: dict[str, Any] = body["data"]["Get"]
        return data


@dataclass(frozen=True)
class Ack:
    at: float
    """When the answer that acknowledged the object was read (epoch seconds)."""
    via: str
    """The member that coordinated the batch."""


@dataclass
class Writer:
    """Writes `pending` in batches from `threads` threads, through the members not marked down,
    in turn. `acked` maps an acknowledged id to its acknowledgement."""

    members: Members
    pending: list[Item]
    batch: int = 10
    threads: int = 2
    acked: dict[str, Ack] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    _turn: int = 0
    _next: int = 0
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        workers = [threading.Thread(target=self._work) for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def wait_for_acks(self, count: int, timeout: float) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.acked) >= count, timeout):
                raise TimeoutError(f"{len(self.acked)} of {count} objects acknowledged")

    def mark_down(self, member: str) -> None:
        with self._lock:
            self.down.add(member)

    def _coordinator(self) -> str:
        with self._lock:
            live = [m for m in self.members.urls if m not in self.down]
            self._turn += 1
            return live[self._turn % len(live)]

    def _take(self) -> list[Item]:
        with self._lock:
            start, self._next = self._next, self._next + self.batch
            return self.pending[start : start + self.batch]

    def _work(self) -> None:
        while chunk := self._take():
            for _ in range(20):
                via = self._coordinator()
                try:
                    acked = self.members.write(via, chunk)
                except httpx.HTTPError as error:
                    self.failures.append(f"{via}: {type(error).__name__}: {error}"[:200])
                    time.sleep(0.2)
                    continue
                with self._lock:
                    ack = Ack(time.time(), via)
                    self.acked.update((item.id, ack) for item in acked)
                    self._lock.notify_all()
                chunk = [item for item in chunk if item.id not in self.acked]
                if not chunk:
                    break
                time.sleep(0.2)


def parallel(work: Iterable[Any], call: Any, threads: int = 8) -> list[Any]:
    """`call(x)` for every x of `work`, on a few threads, in order."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(call, work))


def missing_by_search(members: Members, member: str, wanted: Sequence[Item]) -> list[Item]:
    """The items an exact-vector search through `member` does not find."""
    chunks = [wanted[i : i + SEARCHES_PER_QUERY] for i in range(0, len(wanted), SEARCHES_PER_QUERY)]
    found: set[str] = set().union(*parallel(chunks, lambda c: members.found(member, c), threads=4))
    return [item for item in wanted if item.id not in found]


def missing_by_id(members: Members, member: str, wanted: Sequence[Item]) -> list[Item]:
    """The items the member's own replica does not hold."""
    held = parallel(wanted, lambda item: members.holds(member, item))
    return [item for item, holds in zip(wanted, held, strict=True) if not holds]
