"""A Weaviate node killed after it stored objects but before their vectors reached its indexing
queue: started directly, its searches never find them; started through runestone-weaviate-start
(what every VectorCluster member runs), it indexes them again.

Weaviate commits a batch's objects to the object store's write-ahead log and then its vectors to
the shard's queue; a SIGKILL between the two leaves exactly this state. The kill cannot be aimed
between the two, so the test makes the state itself: it writes, waits until every vector is
indexed, kills the node and removes the shards' HNSW logs, which leaves the objects stored and
their vectors neither indexed nor queued. One real node (the pinned release), with the
asynchronous indexing the operator renders, a collection with one vector and one with a named
vector."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster import gobuild, processes
from devcluster.kube import eventually
from integration.sidecar import weaviate
from runestone_operator.vectorcluster.engines.weaviate import members

OBJECTS = 300
DIMENSIONS = 16
SAMPLE = 60
COLLECTIONS = {"Single": None, "Named": "text"}
"""Collection -> its named vector (None: the collection's one vector)."""


class Node:
    """One Weaviate process over one data folder, started and killed as a test asks. Each start
    takes ports free at that moment: one held across a kill could be taken by another test's
    process while the node is down."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.log_path = workdir / "weaviate.log"
        self.binary = gobuild.ensure(["weaviate"])["weaviate-server"]
        self.start_program = gobuild.ensure(["weaviate-start"])[members.START_PROGRAM]
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(timeout=30)

    def start(self, *, through_start_program: bool) -> None:
        port = processes.free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **weaviate.single_node_env(self.workdir, self.data, "node0"),
            "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
            "GO_PROFILING_DISABLE": "true",
            **dict(members.INDEXING_ENV),
        }
        server = [str(self.binary), "--host", "127.0.0.1", "--port", str(port), "--scheme", "http"]
        argv = server
        if through_start_program:
            argv = [str(self.start_program), "--data", str(self.data), "--", *server]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        eventually(self._ready, timeout=120, what="weaviate ready")

    def _ready(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, self.log()[-3000:]
        try:
            return self.http.get(f"{self.url}/v1/.well-known/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            processes.stop(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.http.request(method, f"{self.url}{path}", json=body)
        assert answer.status_code == 200, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def queued(self) -> int:
        nodes = self.call("GET", "/v1/nodes?output=verbose")["nodes"]
        return sum(s.get("vectorQueueLength") or 0 for n in nodes for s in n.get("shards") or [])

    def found(self, collection: str, objects: Sequence[dict[str, Any]]) -> int:
        """How many of `objects` a search with their own vector finds first."""
        target = COLLECTIONS[collection]
        hits = 0
        for obj in objects:
            vector = obj["vectors"][target] if target else obj["vector"]
            near = f"vector: {json.dumps(vector)}"
            if target:
                near += f', targetVectors: ["{target}"]'
            query = f"{{ Get {{ {collection}(nearVector: {{{near}}}, limit: 1) {{ n }} }} }}"
            got = self.call("POST", "/v1/graphql", {"query": query})["data"]["Get"][collection]
            hits += bool(got) and got[0]["n"] == obj["properties"]["n"]
        return hits


def _objects(collection: str, rng: random.Random) -> list[dict[str, Any]]:
    target = COLLECTIONS[collection]
    made = []
    for n in range(OBJECTS):
        vector = [rng.uniform(-1, 1) for _ in range(DIMENSIONS)]
        obj: dict[str, Any] = {"class": collection, "properties": {"n": n}}
        obj["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if target:
            obj["vectors"] = {target: vector}
        else:
            obj["vector"] = vector
        made.append(obj)
    return made


def _schema(collection: str) -> dict[str, Any]:
    target = COLLECTIONS[collection]
    schema: dict[str, Any] = {
        "class": collection,
        "properties": [{"name": "n", "dataType": ["int"]}],
    }
    if target:
        schema["vectorConfig"] = {target: {"vectorizer": {"none": {}}, "vectorIndexType": "hnsw"}}
    else:
        schema["vectorizer"] = "none"
    return schema


def _remove_indexes(data: Path) -> list[str]:
    """Remove every shard's HNSW log: the index comes back empty, the objects stay."""
    logs = sorted(data.glob("*/*/*.hnsw.commitlog.d"))
    for log in logs:
        shutil.rmtree(log)
    return [str(log.relative_to(data)) for log in logs]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    started = Node(tmp_path)
    try:
        yield started
    finally:
        started.stop()
        print(f"--- weaviate log (tail):\n{started.log()[-4000:]}")


def _start_lines(log: str) -> list[dict[str, Any]]:
    lines = []
    for line in log.splitlines():
        if '"runestone_weaviate_start"' in line:
            lines.append(json.loads(line))
    return lines


@pytest.mark.timeout(600)
def test_vectors_left_out_of_the_queue_by_a_kill_are_indexed_at_the_next_start(node: Node) -> None:
    rng = random.Random(5)
    node.start(through_start_program=True)
    assert _start_lines(node.log()) == [], "a first start has nothing to re-queue"
    written = {}
    for collection in COLLECTIONS:
        node.call("POST", "/v1/schema", _schema(collection))
        written[collection] = _objects(collection, rng)
        answer = node.call("POST", "/v1/batch/objects", {"objects": written[collection]})
        assert all("errors" not in (item.get("result") or {}) for item in answer), answer[:3]
    eventually(lambda: node.queued() == 0, timeout=60, what="every vector indexed")
    sample = {c: rng.sample(objects, SAMPLE) for c, objects in written.items()}
    assert {c: node.found(c, s) for c, s in sample.items()} == dict.fromkeys(COLLECTIONS, SAMPLE)

    node.kill()
    removed = _remove_indexes(node.data)
    assert len(removed) == len(COLLECTIONS), removed

    # The control: Weaviate alone does not notice what its index lacks.
    node.start(through_start_program=False)
    eventually(lambda: node.queued() == 0, timeout=60, what="the queue empty")
    assert {c: node.found(c, s) for c, s in sample.items()} == dict.fromkeys(COLLECTIONS, 0)

    node.kill()
    node.start(through_start_program=True)
    marked = _start_lines(node.log())
    assert {(line["collection"], line["target_vector"]) for line in marked} == {
        ("single", ""),
        ("named", "text"),
    }
    assert all(line["level"] == "warning" for line in marked)
    eventually(lambda: node.queued() == 0, timeout=120, what="the re-queued vectors indexed")
    every = {c: node.found(c, objects) for c, objects in written.items()}
    assert every == dict.fromkeys(COLLECTIONS, OBJECTS)

    # A clean stop leaves no write-ahead log: the next start re-queues nothing.
    node.stop()
    before = len(_start_lines(node.log()))
    node.start(through_start_program=True)
    assert len(_start_lines(node.log())) == before
    assert {c: node.found(c, s) for c, s in sample.items()} == dict.fromkeys(COLLECTIONS, SAMPLE)


def test_the_start_program_refuses_a_call_without_data_or_command(tmp_path: Path) -> None:
    program = gobuild.ensure(["weaviate-start"])[members.START_PROGRAM]
    for argv in ([], ["--data", str(tmp_path)], ["--", "/bin/true"]):
        done = subprocess.run([str(program), *argv], capture_output=True, text=True, check=False)
        assert done.returncode == 2, argv
        assert "usage: runestone-weaviate-start --data DIR -- COMMAND" in done.stderr
    missing = subprocess.run(
        [str(program), "--data", str(tmp_path), "--", "/nonexistent/weaviate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 127
    assert "/nonexistent/weaviate" in missing.stderr
    # It execs the command, which keeps its process ID and its exit code.
    shell = subprocess.Popen(
        [str(program), "--data", str(tmp_path), "--", "/bin/sh", "-c", "echo $$ >&2; exit 7"],
        stderr=subprocess.PIPE,
        text=True,
    )
    _, said = shell.communicate(timeout=30)
    assert shell.returncode == 7
    assert int(said.strip()) == shell.pid
