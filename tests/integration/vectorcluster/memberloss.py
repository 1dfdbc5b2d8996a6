"""A gateway serving vector stores from a VectorCluster while one of its members is killed: the
cluster's members and their Raft leader, the gateway process and its documents, what each member
holds of them by id, what a search through the gateway finds, and the kill itself.

The gateway reaches one member's REST API (plain HTTP at its pod address: the client Service's
name does not resolve on this host), a member that is never the one killed. Documents are words
drawn at random, so every chunk's text is unique and the mock embedding of a chunk's text is the
chunk's own vector: a vector search with a chunk's text as its query has that chunk as its one
exact answer."""

from __future__ import annotations

import contextlib
import io
import math
import random
import string
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai

from devcluster import weaviate as wv
from devcluster.kube import eventually
from fixtures.upstreams import gateway_process
from integration.vectorcluster import crashload, vectorclusters
from integration.vectorcluster.vectorclusters import Clusters
from runestone_gateway import config
from runestone_gateway.retrieval import chunking, extract, files, records, weaviate

EMBEDDING = "mock-embedding"
CHUNKING = {"maxChunkSizeTokens": 100, "chunkOverlapTokens": 0}
QUERIES_PER_SEARCH = 10
"""The most queries one search request takes."""


@dataclass(frozen=True)
class Member:
    name: str
    url: str


@dataclass(frozen=True)
class Cluster:
    """Three members, the Raft leader among them, and an admin key of the cluster's."""

    members: tuple[Member, ...]
    key: str

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    def client(self, member: Member) -> wv.Client:
        return wv.Client(member.url, self.key, timeout=10)

    def leader(self, via: Member) -> str:
        """The Raft leader's node name, as `via` knows it."""
        answer = self.client(via).ok("GET", "/v1/cluster/statistics")
        leaders = {entry.get("leaderId") for entry in answer["statistics"]} - {None, ""}
        assert len(leaders) == 1, f"members disagree on the Raft leader: {answer}"
        return str(leaders.pop())


def start_cluster(clusters: Clusters, name: str) -> Cluster:
    """A VectorCluster of three members with replication factor 3 and client TLS off, Ready."""
    spec = vectorclusters.spec(replicas=3, replicationFactor=3, tls={"mode": "none"})
    clusters.create(name, spec)
    clusters.wait_condition(name, "Ready", "True", timeout=600)
    members = tuple(
        Member(pod.metadata.name, wv.member_url(clusters.address(pod.metadata.name)))
        for pod in clusters.pods(name)
    )
    assert len(members) == 3, [m.name for m in members]
    return Cluster(members, clusters.key(name, "gateway"))


def roles(cluster: Cluster) -> tuple[Member, Member]:
    """The member the gateway reaches (a follower) and the one killed (the Raft leader, the
    member whose loss costs most: the others elect a new leader)."""
    leader = eventually(
        lambda: cluster.leader(cluster.members[0]), timeout=60, what="a Raft leader"
    )
    victim = cluster.member(leader)
    reached = next(m for m in cluster.members if m.name != leader)
    return reached, victim


def start_gateway(
    start: gateway_process.GatewayStarter, workdir: Path, cluster: Cluster, reached: Member
) -> gateway_process.GatewayProcess:
    key_file = workdir / "weaviate-key"
    key_file.write_text(cluster.key)
    embedding = gateway_process.model(EMBEDDING, kinds=["embedding"])
    return start(
        {
            "providerPools": [
                gateway_process.pool("p", [gateway_process.provider("mock", models=[embedding])])
            ],
            "vectorStores": {
                "url": reached.url,
                "apiKeyFile": str(key_file),
                "embeddingModel": EMBEDDING,
                "replicationFactor": 3,
                "chunking": CHUNKING,
            },
        }
    )


def setup(
    clusters: Clusters, name: str, start: gateway_process.GatewayStarter, workdir: Path
) -> tuple[Cluster, Member, Member, gateway_process.GatewayProcess]:
    """A cluster of three members (`start_cluster`), the member its gateway reaches and the one
    killed (`roles`), and that gateway (`start_gateway`)."""
    cluster = start_cluster(clusters, name)
    reached, victim = roles(cluster)
    return cluster, reached, victim, start_gateway(start, workdir, cluster, reached)


# -- documents ------------------------------------------------------------------------------------


def documents(rng: random.Random, count: int, words: int) -> dict[str, bytes]:
    """`count` text files of `words` random words each."""

    def word() -> str:
        return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9)))

    return {
        f"doc-{n:02d}.txt": " ".join(word() for _ in range(words)).encode() for n in range(count)
    }


def chunks_of(filename: str, data: bytes) -> list[str]:
    """The chunks the gateway cuts the file into (its own extraction and chunking, pure)."""
    strategy = config.Chunking.model_validate(CHUNKING)
    return chunking.chunks(extract.text(filename, data), strategy)


@dataclass(frozen=True)
class Ingested:
    """A store's files: their ids, and their chunks' texts in order."""

    store_id: str
    file_ids: dict[str, str]
    """filename -> file id"""
    chunks: dict[str, list[str]]
    """file id -> its chunks' texts, by `seq`"""
    sizes: dict[str, int]
    """file id -> its bytes"""

    @property
    def chunk_count(self) -> int:
        return sum(len(texts) for texts in self.chunks.values())

    def object_ids(self) -> dict[str, list[str]]:
        """What Weaviate holds of the store's files, by collection: Weaviate's object ids."""
        store = self.store_id
        parts = {f: math.ceil(size / files.PART_BYTES) for f, size in self.sizes.items()}
        keys = {
            records.FILES: list(self.file_ids.values()),
            records.PARTS: [f"{f}:{seq}" for f, count in parts.items() for seq in range(count)],
            records.STORE_FILES: [f"{store}:{f}" for f in self.file_ids.values()],
        }
        found = {c: [weaviate.object_id(c, key) for key in ks] for c, ks in keys.items()}
        found[records.CHUNKS] = [
            weaviate.object_id(records.CHUNKS, store, f, str(seq))
            for f, texts in self.chunks.items()
            for seq in range(len(texts))
        ]
        return found


def ingested(store_id: str, docs: dict[str, bytes], uploaded: Iterable[Any]) -> Ingested:
    """The store's files from the gateway's file objects (matched by filename)."""
    file_ids = {f.filename: f.id for f in uploaded}
    assert sorted(file_ids) == sorted(docs), sorted(file_ids)
    return Ingested(
        store_id,
        file_ids,
        {file_ids[name]: chunks_of(name, data) for name, data in docs.items()},
        {file_ids[name]: len(data) for name, data in docs.items()},
    )


def store_files(sdk: openai.OpenAI, store_id: str) -> list[Any]:
    return list(sdk.vector_stores.files.list(store_id, limit=100))


# -- what each member holds -----------------------------------------------------------------------


def absent(cluster: Cluster, member: Member, collection: str, ids: Sequence[str]) -> list[str]:
    """The ids the member's own replica does not hold (`node_name`: no other replica is asked)."""
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {cluster.key}"}) as http:

        def holds(object_id: str) -> bool:
            answer = http.get(
                f"{member.url}/v1/objects/{collection}/{object_id}",
                params={"node_name": member.name},
            )
            if answer.status_code not in (200, 404):
                answer.raise_for_status()
            return answer.status_code == 200

        held = crashload.parallel(ids, holds, threads=6)
    return [object_id for object_id, holds in zip(ids, held, strict=True) if not holds]


def converge(cluster: Cluster, wanted: dict[str, list[str]], timeout: float) -> float:
    """Until every member holds every wanted object by id; how long that took."""
    started = time.monotonic()
    missing = {(m.name, c): list(ids) for m in cluster.members for c, ids in wanted.items()}
    while True:
        missing = {
            (name, c): absent(cluster, cluster.member(name), c, ids)
            for (name, c), ids in missing.items()
            if ids
        }
        counts = {f"{name} {c}": len(ids) for (name, c), ids in missing.items() if ids}
        if not counts:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"absent by id after {timeout}s: {counts}"
        time.sleep(3)


# -- searches through the gateway -----------------------------------------------------------------


def unfound(sdk: openai.OpenAI, ingested_: Ingested) -> list[tuple[str, int]]:
    """The chunks (file id, seq) that a vector search through the gateway for their own text
    does not answer, quoted whole, with their file; ten chunks a request."""
    wanted = [
        (f, seq, text) for f, texts in ingested_.chunks.items() for seq, text in enumerate(texts)
    ]
    batches = [
        wanted[i : i + QUERIES_PER_SEARCH] for i in range(0, len(wanted), QUERIES_PER_SEARCH)
    ]

    def search(batch: list[tuple[str, int, str]]) -> list[tuple[str, int]]:
        page = sdk.vector_stores.search(
            ingested_.store_id,
            query=[text for _, _, text in batch],
            max_num_results=2 * QUERIES_PER_SEARCH,
            extra_body={"search_mode": "vector"},
        )
        found = {(hit.file_id, hit.content[0].text) for hit in page.data}
        return [(f, seq) for f, seq, text in batch if (f, text) not in found]

    return [miss for misses in crashload.parallel(batches, search, threads=3) for miss in misses]


@dataclass
class Searcher:
    """Clients searching through the gateway back to back, one thread each, each search for the
    text of one chunk, until stopped; a search counts as answered when it is answered 200 with
    that chunk's file first."""

    clients: list[openai.OpenAI]
    ingested: Ingested
    answered: list[float] = field(default_factory=list)
    """When each answered search was sent (monotonic)."""
    failed: list[tuple[float, str]] = field(default_factory=list)
    """When each failed search was sent, and how it failed."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @contextlib.contextmanager
    def running(self) -> Iterator[Searcher]:
        self._threads = [
            threading.Thread(target=self._search, args=(sdk, seed), name=f"searcher-{seed}")
            for seed, sdk in enumerate(self.clients)
        ]
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(timeout=120)

    def _search(self, sdk: openai.OpenAI, seed: int) -> None:
        wanted = [(f, text) for f, texts in self.ingested.chunks.items() for text in texts]
        rng = random.Random(seed)
        while not self._stop.is_set():
            file_id, text = rng.choice(wanted)
            sent = time.monotonic()
            try:
                page = sdk.vector_stores.search(
                    self.ingested.store_id, query=text, max_num_results=3
                )
            except openai.APIError as error:
                status = getattr(error, "status_code", type(error).__name__)
                self.failed.append((sent, f"{_clock()} {status}: {error.message}"[:300]))
                continue
            first = page.data[0].file_id if page.data else None
            if first != file_id:
                self.failed.append((sent, f"{_clock()} answered {first}, not {file_id}"))
                continue
            self.answered.append(sent)

    def answered_between(self, start: float, end: float) -> int:
        return sum(1 for sent in self.answered if start <= sent < end)

    def failed_between(self, start: float, end: float) -> int:
        return sum(1 for sent, _ in self.failed if start <= sent < end)


def _clock() -> str:
    return time.strftime("%X")


# -- the kill -------------------------------------------------------------------------------------


@dataclass
class Outage:
    """One member killed with SIGKILL (the kubelet holds it) and, once its gate is False, let
    start again; times are monotonic."""

    clusters: Clusters
    victim: Member
    killed: float = 0.0
    gate_false: float = 0.0
    released: float = 0.0
    serving: float = 0.0
    """When its Weaviate was ready again: a member of the cluster, taking its replicas' writes
    and reads from the others (its gate waits for more: its indexing queue drained)."""
    back: float = 0.0
    """When its gate was True again."""

    def kill(self) -> None:
        self.killed = time.monotonic()
        wv.kill_container(self.clusters.kubelet, self.clusters.namespace, self.victim.name)

    def restart_once_noticed(self) -> None:
        """Let the kubelet start it again once its sidecar has turned its gate False (the
        kubelet restarts a killed container at once; holding it this long makes sure the
        cluster has lived without it)."""
        self.gate_false = self._wait_gate("False", timeout=120)
        wv.release_container(self.clusters.kubelet, self.clusters.namespace, self.victim.name)
        self.released = time.monotonic()

    def wait_serving(self, timeout: float = 300) -> None:
        member = wv.Client(self.victim.url, None, timeout=2)
        eventually(member.ready, timeout=timeout, what=f"{self.victim.name}'s Weaviate ready")
        self.serving = time.monotonic()

    def wait_back(self, timeout: float = 300) -> None:
        self.back = self._wait_gate("True", timeout=timeout)

    def _wait_gate(self, status: str, timeout: float) -> float:
        eventually(
            lambda: self.clusters.gate(self.victim.name) == status,
            timeout=timeout,
            what=f"{self.victim.name}'s gate {status}",
        )
        return time.monotonic()

    def summary(self) -> dict[str, float]:
        """Seconds after the kill: gate False, started again, Weaviate ready, gate True."""
        return {
            "gate_false_s": round(self.gate_false - self.killed, 1),
            "released_s": round(self.released - self.killed, 1),
            "serving_s": round(self.serving - self.killed, 1),
            "back_s": round(self.back - self.killed, 1),
        }


def upload(docs: dict[str, bytes]) -> list[tuple[str, io.BytesIO]]:
    return [(name, io.BytesIO(data)) for name, data in docs.items()]
