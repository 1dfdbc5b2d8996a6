"""A member of a VectorCluster with replication factor 3 killed during ingestion and during
search: nothing is lost, and searches keep answering.

Three members from the operator, a real gateway process on this host whose `vectorStores`
reaches one of them with replication factor 3 (mock embeddings), the official `openai` SDK as
the client (no retries of its own). The member killed is the Raft leader, never the one the
gateway reaches (`memberloss`); it is SIGKILLed through the process kubelet, held down until its
gate turns False, and then starts again.

During ingestion: `file_batches.upload_and_poll` of 40 files (150 chunks each), the member
killed once a tenth of the chunks are written. Every file ends `completed`; once the member is
back and Weaviate's async replication has brought it what it missed, every member holds every
file, part, store-file record and chunk by id (its own replica alone), and a search through the
gateway for each chunk's text finds that chunk, whole, in its file.

During search: two clients searching back to back, from before the kill until the member has
been back for a while; every search is answered 200 with the file it quotes first.

Without the gateway's repeat of Weaviate calls that fail for a passing reason, both fail now and
then: a write in flight when the leader dies is answered 422 or 500 ("failed to execute query:
rpc error ...": the member asked the leader for the collection's definition), and once the
member is back, a quorum read of a record its replica missed writes to repairs that replica,
which a write of the same record meanwhile (the store marked active by a search, an
ingestion's heartbeat) makes Weaviate answer 500 ("read repair error ... conflict"). A file
whose ingestion met either was left `failed` or `in_progress` until another process took it
over."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from devcluster import weaviate as wv
from devcluster.kube import eventually
from fixtures.upstreams import gateway_process
from integration.vectorcluster import memberloss
from integration.vectorcluster.vectorclusters import Clusters
from runestone_gateway.retrieval import records

NAME = "loss"
FILES = 40
WORDS = 15000
"""150 chunks of 100 tokens a file: three write batches each. Ingesting the 6,000 takes longer
here than the killed member takes to be a member again, so it usually is one while they are
still written (the printed summary says whether it was: `ingesting_when_serving`); its gate
turns True only once it has indexed what the others sent it."""
KILL_AT = 0.1
"""The share of the chunks written when the member is killed."""
CONVERGE_SECONDS = 300
SEARCH_AFTER_BACK_SECONDS = 15
SEARCHERS = 2


@pytest.mark.timeout(1500)
def test_a_member_killed_during_ingestion_loses_nothing(
    clusters: Clusters, start_gateway: gateway_process.GatewayStarter, tmp_path: Path
) -> None:
    cluster, reached, victim, gateway = memberloss.setup(clusters, NAME, start_gateway, tmp_path)
    sdk = gateway.client()
    docs = memberloss.documents(random.Random(1), FILES, WORDS)
    total = sum(len(memberloss.chunks_of(name, data)) for name, data in docs.items())
    store = sdk.vector_stores.create(name="member-loss")

    outage = memberloss.Outage(clusters, victim)
    at_kill: dict[str, int] = {}
    trouble: list[BaseException] = []
    watching = cluster.client(reached)

    def written() -> int:
        try:
            return watching.count(records.CHUNKS)
        except (httpx.HTTPError, wv.WeaviateError):
            return 0

    def kill_then_restart() -> None:
        try:
            at_kill["chunks"] = eventually(
                lambda: (n := written()) >= total * KILL_AT and n,
                timeout=600, interval=0.05, what=f"{KILL_AT:.0%} of the chunks written",
            )  # fmt: skip
            outage.kill()
            outage.restart_once_noticed()
            outage.wait_serving()
        except BaseException as error:  # the main thread reports it
            trouble.append(error)

    killer = threading.Thread(target=kill_then_restart, name="killer")
    killer.start()
    started = time.monotonic()
    batch = sdk.vector_stores.file_batches.upload_and_poll(
        store.id, files=memberloss.upload(docs), max_concurrency=5, poll_interval_ms=500
    )
    ingested_s = time.monotonic() - started
    killer.join(timeout=300)
    assert not trouble, trouble
    assert outage.killed, "the member was never killed"
    assert at_kill["chunks"] < total, "the kill came after every chunk was written"

    attached = memberloss.store_files(sdk, store.id)
    unfinished = {f.id: (f.status, f.last_error) for f in attached if f.status != "completed"}

    outage.wait_back()
    found = memberloss.ingested(store.id, docs, sdk.files.list(limit=100))
    wanted = found.object_ids()
    behind = memberloss.absent(cluster, victim, records.CHUNKS, wanted[records.CHUNKS])
    converged_s = memberloss.converge(cluster, wanted, CONVERGE_SECONDS)
    unfound = memberloss.unfound(sdk, found)
    log = gateway.stderr()
    summary = {
        "victim": victim.name,
        "gateway_reaches": reached.name,
        "files": FILES,
        "completed": len(attached) - len(unfinished),
        "chunks": total,
        "chunks_written_at_kill": at_kill["chunks"],
        "killed_after_s": round(outage.killed - started, 1),
        "ingested_s": round(ingested_s, 1),
        "ingesting_when_serving": started + ingested_s > outage.serving,
        **outage.summary(),
        "chunks_missing_on_victim_when_back": len(behind),
        "converged_after_back_s": round(converged_s, 1),
        "objects_on_every_member": {c: len(ids) for c, ids in wanted.items()},
        "unfound_by_search": len(unfound),
        "weaviate_calls_asked_again": log.count("asking again"),
        "ingestions_taken_over": log.count("taking over the ingestion"),
    }
    print("member lost during ingestion: " + json.dumps(summary))
    assert found.chunk_count == total
    assert len(attached) == FILES
    assert unfinished == {}, unfinished
    assert (batch.status, batch.file_counts.completed) == ("completed", FILES)
    assert unfound == [], unfound[:10]


@pytest.mark.timeout(1500)
def test_searches_keep_answering_while_a_member_is_killed_and_comes_back(
    clusters: Clusters, start_gateway: gateway_process.GatewayStarter, tmp_path: Path
) -> None:
    _, reached, victim, gateway = memberloss.setup(clusters, NAME, start_gateway, tmp_path)
    sdk = gateway.client()
    docs = memberloss.documents(random.Random(2), 10, 500)
    store = sdk.vector_stores.create(name="member-loss-search")
    batch = sdk.vector_stores.file_batches.upload_and_poll(
        store.id, files=memberloss.upload(docs), max_concurrency=5, poll_interval_ms=500
    )
    assert batch.file_counts.completed == len(docs), batch.file_counts
    found = memberloss.ingested(store.id, docs, sdk.files.list(limit=100))
    # Indexing is asynchronous: searched once every vector is indexed.
    eventually(
        lambda: not memberloss.unfound(sdk, found), timeout=60, what="every chunk searchable"
    )

    searcher = memberloss.Searcher([gateway.client() for _ in range(SEARCHERS)], found)
    outage = memberloss.Outage(clusters, victim)
    started = time.monotonic()
    with searcher.running():
        eventually(
            lambda: len(searcher.answered) >= 20, timeout=60, what="searches before the kill"
        )
        outage.kill()
        outage.restart_once_noticed()
        outage.wait_serving()
        outage.wait_back()
        time.sleep(SEARCH_AFTER_BACK_SECONDS)
    ended = time.monotonic()
    phases = {
        "before_kill": (started, outage.killed),
        "down": (outage.killed, outage.serving),
        "rejoining": (outage.serving, outage.back),
        "after_back": (outage.back, ended),
    }
    summary = {
        "victim": victim.name,
        "gateway_reaches": reached.name,
        "chunks": found.chunk_count,
        "searchers": SEARCHERS,
        "searches": len(searcher.answered) + len(searcher.failed),
        "errors": len(searcher.failed),
        "answered": {name: searcher.answered_between(*span) for name, span in phases.items()},
        "failed": {name: searcher.failed_between(*span) for name, span in phases.items()},
        **outage.summary(),
        "weaviate_calls_asked_again": gateway.stderr().count("asking again"),
    }
    print("member lost during search: " + json.dumps(summary))
    assert searcher.answered_between(*phases["down"]) >= 10, summary
    assert searcher.failed == [], [message for _, message in searcher.failed[:20]]
