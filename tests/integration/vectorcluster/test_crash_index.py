"""No acknowledged vector is lost from search when a member is killed.

A VectorCluster of three members from the operator (so each runs what the Weaviate engine
renders, and its gate is its own sidecar's), a collection with replication factor 3, and 3,000
objects written with QUORUM while one member's Weaviate is killed with SIGKILL. The member is
started again once the writes are done; when its gate is True, every object it holds is found by
a search with its exact vector through it, and once every member holds every acknowledged object
by id (Weaviate's async replication brings the writes the member missed) and has indexed its
queue (what replication brought is queued like any write), every one is found by search through
every member.

With synchronous indexing (the control below) the killed member's index comes back without its
last acknowledged inserts: the objects are there by id, its searches never find them.

Not yet explained, so reported rather than hidden: 4 runs in about 36 (2026-12-06/07) left 8,
10, 9 and 3 acknowledged objects, at most a batch's worth each, on a member that was NOT killed,
held by id and written once like every other copy (created = last updated), with no vector in
its index or its queue; the last two runs' were acknowledged at the moment of the kill, the last
one's through the member then killed. The suspect: Weaviate
(v1.39.3) applies a write a peer sends (a batch's commit, `executeCommitPhase`, or what async
replication brings, `OverwriteObjects`) under the peer's request, and `objectsBatcher` stores the
objects first and queues their vectors only if that request is still live, so a peer killed
between the two leaves such objects, and async replication, finding the copies identical, brings
nothing; `runestone-weaviate-start` repairs only a member that starts again. Killing a coordinator
0-0.4 s after it answered a 500-object QUORUM batch (38 kills, 28 with the third replica running
at 2-5 % of its speed) left that replica with 0 or 150 of the 500 at the kill but never with a
hole, so it stays a suspect. A run whose only misses are such holes (members not killed, batches
acknowledged at most COMMIT_WINDOW_S before the kill, through the victim) is an expected failure
that prints its summary; any other miss fails it."""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devcluster import kube, storage
from devcluster import weaviate as wv
from devcluster.kube import eventually
from integration.vectorcluster import crashload, vectorclusters
from integration.vectorcluster.crashload import Item, Members
from integration.vectorcluster.vectorclusters import Clusters
from runestone_sidecar import conditions
from runestone_sidecar.probes.engines import weaviate as member_probe

NAME = "crash"
OBJECTS = 3000
RUNS = 3
CONVERGE_SECONDS = 300
COMMIT_WINDOW_S = 2.0
"""How long before its kill the victim can have answered a batch that a third replica was still
committing (QUORUM answers once two have)."""


@dataclass(frozen=True)
class Outcome:
    """What one crash run saw."""

    victim: str
    acked: int
    acked_at_kill: int
    killed_after_s: float
    gate_s: float
    queue_at_gate: int
    held_at_gate: int
    missing_at_gate: list[Item]
    """Objects the victim held by id when its gate turned True that its searches missed, also
    once its queue was indexed."""
    holes_acked: dict[str, list[tuple[float, str]]]
    """Per member, for each object missing from its index (`holes`): when it was acknowledged, in
    seconds after the kill (negative: before it), and which member coordinated its batch."""
    converged_s: float
    queued_at_converged: dict[str, int]
    """Per member, the vectors its queue held when every member held every object by id."""
    missing: dict[str, list[Item]]
    """After convergence and every member's queue indexed, per member: the acknowledged objects
    its searches missed."""
    holes: dict[str, list[str]]
    """Of `missing`, the ids whose vector is not in the member's index at all."""
    hole_copies: dict[str, dict[str, list[int | None] | None]]
    """For the first hole of each member that has one: every member's copy of that object, as
    [creationTimeUnix, lastUpdateTimeUnix] (None: not held), to tell a copy that replication
    wrote over from one written once."""
    cancelled: dict[str, list[str]]
    """When there are holes: per member, the lines of its Weaviate log that name a cancelled
    request or an expired deadline (the suspect in the module docstring), the first few."""
    run_s: float

    def summary(self) -> str:
        return json.dumps(
            {
                "victim": self.victim,
                "acked": self.acked,
                "acked_at_kill": self.acked_at_kill,
                "killed_after_s": self.killed_after_s,
                "gate_s": self.gate_s,
                "queue_at_gate": self.queue_at_gate,
                "held_at_gate": self.held_at_gate,
                "missing_at_gate": len(self.missing_at_gate),
                "holes_acked": {m: v[:10] for m, v in self.holes_acked.items() if v},
                "converged_s": self.converged_s,
                "queued_at_converged": self.queued_at_converged,
                "missing": {m: len(v) for m, v in self.missing.items()},
                "holes": {m: len(v) for m, v in self.holes.items()},
                "hole_copies": self.hole_copies,
                "cancelled": self.cancelled,
                "run_s": self.run_s,
            }
        )


def _cluster(clusters: Clusters, env: dict[str, str] | None = None, replicas: int = 3) -> Members:
    """A VectorCluster whose members run with `env` over what the operator renders."""
    if env:
        body = {"metadata": {"annotations": {wv.ENV_ANNOTATION: json.dumps(env)}}}
        clusters.core.patch_namespace(clusters.namespace, body)
    spec = vectorclusters.spec(replicas=replicas, replicationFactor=replicas, tls={"mode": "none"})
    clusters.create(NAME, spec)
    clusters.wait_condition(NAME, "Ready", "True", timeout=600)
    pods = [pod.metadata.name for pod in clusters.pods(NAME)]
    urls = {pod: wv.member_url(clusters.address(pod)) for pod in pods}
    return Members(urls, clusters.key(NAME, "gateway"))


def _wait_gate(clusters: Clusters, pod: str, status: str, timeout: float) -> float:
    started = time.monotonic()
    while clusters.gate(pod) != status:
        if time.monotonic() - started >= timeout:
            raise AssertionError(f"{pod}: gate not {status} in {timeout}s; {_why(clusters, pod)}")
        time.sleep(0.2)
    return time.monotonic() - started


def _why(clusters: Clusters, pod: str) -> str:
    """What a gate that did not turn says: its condition, whether the member's process lives,
    and the sidecar's last lines."""
    log = kube.container_log(clusters.kubelet, clusters.namespace, pod, "weaviate")
    try:
        os.kill(int(log.with_suffix(".pid").read_text()), 0)
        process = "alive"
    except ProcessLookupError:
        process = "gone"
    sidecar = kube.container_log(clusters.kubelet, clusters.namespace, pod, "sidecar")
    tail = "\n".join(sidecar.read_text().splitlines()[-15:])
    return f"gate {_gate(clusters, pod)}; weaviate process {process}; sidecar log:\n{tail}"


def _queued(members: Members, pod: str) -> int:
    return sum(s.get("vectorQueueLength") or 0 for s in members.shards(pod))


def _wait_indexed(members: Members, pod: str, timeout: float) -> None:
    """Wait until the member's queue holds no vector still to be indexed."""
    eventually(lambda: _queued(members, pod) == 0, timeout=timeout, what=f"{pod}'s queue indexed")


def _converge(members: Members, acked: list[Item]) -> float:
    """Wait until every member holds every acknowledged object by id; how long it took."""
    started = time.monotonic()
    absent = {member: list(acked) for member in members.urls}
    while any(absent.values()):
        # A stored object stays, so only the ones still absent are asked again.
        absent = {m: crashload.missing_by_id(members, m, items) for m, items in absent.items()}
        counts = {m: len(items) for m, items in absent.items()}
        assert time.monotonic() - started < CONVERGE_SECONDS, f"absent by id: {counts}"
        if any(absent.values()):
            time.sleep(3)
    return time.monotonic() - started


def crash(clusters: Clusters, members: Members, victim: str, seed: int) -> Outcome:
    """Write OBJECTS while `victim` is killed, start it again and check (module docstring)."""
    started = time.monotonic()
    rng = random.Random(seed)
    members.create_collection(next(m for m in members.urls if m != victim))
    writer = crashload.Writer(members, crashload.items(OBJECTS, rng))
    kill_at = rng.randint(int(OBJECTS * 0.3), int(OBJECTS * 0.7))
    jitter = rng.uniform(0, 0.3)  # so that the kill lands anywhere between two batches
    killed: dict[str, float] = {}

    def kill() -> None:
        writer.wait_for_acks(kill_at, timeout=600)
        time.sleep(jitter)
        writer.mark_down(victim)
        killed["at"] = time.time()
        killed["acked"] = len(writer.acked)
        wv.kill_container(clusters.kubelet, clusters.namespace, victim)

    killer = threading.Thread(target=kill, name="killer")
    writing = time.time()
    killer.start()
    writer.run()
    killer.join()
    assert "at" in killed, "the member was never killed"
    acked = [item for item in writer.pending if item.id in writer.acked]

    _wait_gate(clusters, victim, "False", timeout=120)
    wv.release_container(clusters.kubelet, clusters.namespace, victim)
    gate_s = _wait_gate(clusters, victim, "True", timeout=300)
    queue_at_gate = _queued(members, victim)
    # What the victim holds now must be searchable: at once, or once the vectors its queue still
    # holds are indexed. (What it missed while it was down comes later, by async replication.)
    absent = {item.id for item in crashload.missing_by_id(members, victim, acked)}
    held_at_gate = [item for item in acked if item.id not in absent]
    missing_at_gate = crashload.missing_by_search(members, victim, held_at_gate)
    if missing_at_gate:
        _wait_indexed(members, victim, timeout=60)
        missing_at_gate = crashload.missing_by_search(members, victim, missing_at_gate)

    converged_s = _converge(members, acked)
    # What async replication brought during the wait is held by id at once but searchable only
    # once the member's queue has indexed it, on any member (not only the one killed).
    queued_at_converged = {m: _queued(members, m) for m in members.urls}
    for member in members.urls:
        _wait_indexed(members, member, timeout=120)
    missing = {m: crashload.missing_by_search(members, m, acked) for m in members.urls}
    holes = {
        m: [item.id for item in items if not members.indexed(m, item)]
        for m, items in missing.items()
    }
    return Outcome(
        victim=victim,
        acked=len(acked),
        acked_at_kill=int(killed["acked"]),
        killed_after_s=round(killed["at"] - writing, 1),
        gate_s=round(gate_s, 1),
        queue_at_gate=queue_at_gate,
        held_at_gate=len(held_at_gate),
        missing_at_gate=missing_at_gate,
        holes_acked={
            m: sorted(
                (round(writer.acked[i].at - killed["at"], 2), writer.acked[i].via) for i in ids
            )
            for m, ids in holes.items()
        },
        converged_s=round(converged_s, 1),
        queued_at_converged=queued_at_converged,
        missing=missing,
        holes=holes,
        hole_copies={m: members.copies(ids[0]) for m, ids in holes.items() if ids},
        cancelled=_cancelled(clusters, members, killed["at"]) if any(holes.values()) else {},
        run_s=round(time.monotonic() - started, 1),
    )


def _cancelled(
    clusters: Clusters, members: Members, since: float, count: int = 5
) -> dict[str, list[str]]:
    """Per member, the first `count` lines of its Weaviate log from `since` (epoch seconds, to the
    second) on that name a cancelled request or an expired deadline."""
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(since)))
    found = {}
    for member in members.urls:
        log = kube.container_log(clusters.kubelet, clusters.namespace, member, "weaviate")
        lines = []
        for line in log.read_text(errors="replace").splitlines():
            if "context canceled" not in line and "deadline exceeded" not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            # ISO 8601 in UTC with a Z compares as text.
            if str(entry.get("time", "")) >= start:
                said = f"{entry.get('time')} {entry.get('action', '')}: {entry.get('msg', '')}"
                lines.append(said[:300])
        found[member] = lines[:count]
    return found


def _left_by_the_killed_coordinator(outcome: Outcome) -> bool:
    """Whether every miss is the hole the module docstring describes: not in the index at all, on
    a member that was not killed, in a batch that the victim coordinated and acknowledged just
    before it was killed."""
    holes = {m: set(ids) for m, ids in outcome.holes.items() if ids}
    missed = {m: {item.id for item in items} for m, items in outcome.missing.items() if items}
    return (
        bool(holes)
        and outcome.victim not in holes
        and missed == holes
        and all(
            # A batch the victim answered was answered before it died, whenever its answer
            # was read.
            via == outcome.victim and after_kill >= -COMMIT_WINDOW_S
            for acked in outcome.holes_acked.values()
            for after_kill, via in acked
        )
    )


def _first(items: list[Any], count: int = 5) -> str:
    return json.dumps([item.id if isinstance(item, Item) else item for item in items[:count]])


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("run", range(1, RUNS + 1))
def test_no_acknowledged_vector_is_lost_from_search_after_a_member_is_killed(
    clusters: Clusters, run: int
) -> None:
    members = _cluster(clusters)
    try:
        victim = f"{NAME}-{run % 3}"
        outcome = crash(clusters, members, victim, seed=run)
    finally:
        members.close()
    print(f"crash run {run}: {outcome.summary()}")
    assert outcome.acked >= OBJECTS * 0.99, outcome.summary()
    assert outcome.missing_at_gate == [], (
        f"{victim}'s gate turned True while its searches missed "
        f"{len(outcome.missing_at_gate)} objects it held: {_first(outcome.missing_at_gate)}"
    )
    if _left_by_the_killed_coordinator(outcome):
        pytest.xfail(
            "a member that was not killed holds objects acknowledged through the victim just "
            f"before its kill without their vectors (module docstring): {outcome.summary()}"
        )
    assert all(not items for items in outcome.missing.values()), (
        f"acknowledged objects missing from search: {outcome.summary()}; not in the index at "
        f"all: { {m: _first(ids) for m, ids in outcome.holes.items()} }"
    )


@pytest.mark.timeout(1500)
def test_with_synchronous_indexing_the_killed_member_loses_acknowledged_vectors(
    clusters: Clusters,
) -> None:
    """The control: the same run with the members indexing synchronously (Weaviate's default)
    finds acknowledged objects that the killed member holds by id but its index lacks.

    Mostly the loss is the killed member's alone, but not always: one CI run (2026-12-06) found
    2 holes in a member that was not killed as well (12 in the killed one), like the unexplained
    ones of the module docstring, so only the killed member's holes are asserted; the others' are
    in the printed summary."""
    members = _cluster(clusters, env={"ASYNC_INDEXING": "false"})
    try:
        victim = f"{NAME}-2"
        outcome = crash(clusters, members, victim, seed=7)
    finally:
        members.close()
    print(f"crash run, synchronous indexing: {outcome.summary()}")
    assert outcome.holes[victim], f"no hole in {victim}'s index: {outcome.summary()}"


def _gate(clusters: Clusters, pod: str) -> tuple[str, str]:
    """The member gate's status and reason."""
    found = clusters.core.read_namespaced_pod(pod, clusters.namespace)
    for condition in found.status.conditions or []:
        if condition.type == vectorclusters.GATE:
            return str(condition.status), str(condition.reason)
    return "Unknown", ""


def _admitted_without_the_queue(members: Members, pod: str) -> bool:
    """What the member probe said before it also asked for an indexed queue: ready, HEALTHY,
    every shard serving (INDEXING included)."""
    try:
        if members.http.get(f"{members.urls[pod]}/v1/.well-known/ready").status_code != 200:
            return False
        answer = members.http.get(f"{members.urls[pod]}/v1/nodes", params={"output": "verbose"})
        result = member_probe.judge_nodes(answer.json(), pod)
    except (httpx.HTTPError, ValueError):
        return False
    return result.ok or result.keeps_ready


def _searches(members: Members, pod: str, item: Item) -> bool:
    """Whether a search through the member answers (found or not)."""
    try:
        members.found(pod, [item])
    except (httpx.HTTPError, RuntimeError):
        return False
    return True


@pytest.mark.timeout(900)
def test_a_restarted_member_turns_ready_only_once_it_has_indexed_its_queue(
    clusters: Clusters,
) -> None:
    """A member started again with vectors in its indexing queue answers searches at once, and
    misses those vectors until they are indexed; its gate waits for the queue. The members' queue
    scheduler runs every 40 s here instead of every 100 ms, so that the queue left at the kill is
    still there when the member serves again (a crash under a write load the index cannot keep up
    with leaves such a queue)."""
    pod = f"{NAME}-0"
    members = _cluster(clusters, env={"QUEUE_SCHEDULER_INTERVAL": "40s"}, replicas=1)
    rng = random.Random(11)
    written: list[Item] = []
    try:
        members.create_collection(pod)
        while _queued(members, pod) <= 2 * member_probe.MAX_QUEUED_VECTORS:
            assert len(written) < 10 * OBJECTS, "the queue never grew: is the scheduler slowed?"
            batch = crashload.items(OBJECTS, rng)
            crashload.Writer(members, batch, batch=100).run()
            written += batch
        wv.kill_container(clusters.kubelet, clusters.namespace, pod)
        _wait_gate(clusters, pod, "False", timeout=120)
        wv.release_container(clusters.kubelet, clusters.namespace, pod)

        started = time.monotonic()
        admitted = searchable = None  # when the old rule said ready; when searches answered
        queued_when_searchable = missed_when_searchable = 0
        reasons: set[str] = set()
        while (gate := _gate(clusters, pod))[0] != "True":
            now = time.monotonic() - started
            assert now < 300, f"gate still {gate} after 300 s"
            reasons.add(gate[1])
            if admitted is None and _admitted_without_the_queue(members, pod):
                admitted = now
            if admitted is not None and searchable is None and _searches(members, pod, written[0]):
                searchable = now
                queued_when_searchable = _queued(members, pod)
                missed_when_searchable = len(crashload.missing_by_search(members, pod, written))
            time.sleep(0.2)
        ready = time.monotonic() - started
        queued_at_gate = _queued(members, pod)
        _wait_indexed(members, pod, timeout=60)
        missing = crashload.missing_by_search(members, pod, written)
    finally:
        members.close()
    print(
        f"{len(written)} objects; after the restart: the probe without the queue rule would "
        f"admit the member at {admitted} s, searches answered at {searchable} s with "
        f"{queued_when_searchable} vectors queued and {missed_when_searchable} objects missed; "
        f"gate True at {ready:.1f} s with {queued_at_gate} queued; reasons while False: "
        f"{sorted(reasons)}"
    )
    assert searchable is not None, "searches never answered before the gate turned True"
    assert searchable < ready - 2
    assert missed_when_searchable > member_probe.MAX_QUEUED_VECTORS
    assert conditions.INDEX_BEHIND in reasons
    assert queued_at_gate <= member_probe.MAX_QUEUED_VECTORS
    assert missing == []


@pytest.mark.timeout(900)
def test_a_member_killed_before_its_stored_objects_reached_the_queue_indexes_them_again(
    clusters: Clusters,
) -> None:
    """The path the queue leaves open (Weaviate commits a batch's objects before its vectors
    reach the queue): the member is killed with objects stored whose vectors are neither indexed
    nor queued (made here by removing its shard's HNSW log while it is down, since a kill cannot
    be aimed between the two). Started again as the operator renders it, through
    runestone-weaviate-start, it finds every one of them by search. Without the start program
    such objects stay unsearchable (test_weaviate_start.py, the control)."""
    pod = f"{NAME}-0"
    members = _cluster(clusters, replicas=1)
    rng = random.Random(13)
    try:
        members.create_collection(pod)
        written = crashload.items(1000, rng)
        crashload.Writer(members, written, batch=100).run()
        _wait_indexed(members, pod, timeout=60)
        assert crashload.missing_by_search(members, pod, written) == []

        wv.kill_container(clusters.kubelet, clusters.namespace, pod)
        _wait_gate(clusters, pod, "False", timeout=120)
        data = storage.claim_directory(clusters.core, clusters.namespace, f"data-{pod}")
        assert data is not None
        logs = sorted(data.glob("*/*/*.hnsw.commitlog.d"))
        assert logs, f"no HNSW log under {data}"
        for log in logs:
            shutil.rmtree(log)
        wv.release_container(clusters.kubelet, clusters.namespace, pod)
        gate_s = _wait_gate(clusters, pod, "True", timeout=300)
        _wait_indexed(members, pod, timeout=120)
        missing = crashload.missing_by_search(members, pod, written)
        log_text = kube.container_log(clusters.kubelet, clusters.namespace, pod, "weaviate")
        requeued = [line for line in log_text.read_text().splitlines() if "weaviate_start" in line]
    finally:
        members.close()
    print(f"gate True {gate_s:.1f} s after the restart; start program said: {requeued}")
    assert requeued, "the member did not start through runestone-weaviate-start"
    assert missing == [], f"{len(missing)} of {len(written)} objects not found by search"
