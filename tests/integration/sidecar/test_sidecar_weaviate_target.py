"""A real Weaviate node as the target: ready and HEALTHY turns the member condition True; a
read-only shard turns it False naming the shard; a dead node turns it False."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devcluster.sidecar import podenv, process, recorder
from integration.sidecar import weaviate

MEMBER = "docs-0"


@pytest.fixture
def weaviate_node(tmp_path: Path) -> Iterator[weaviate.WeaviateNode]:
    node = weaviate.WeaviateNode(tmp_path, hostname=MEMBER)
    yield node
    node.stop()
    print(f"--- weaviate log (tail):\n{node.log()}")


def test_weaviate_member_readiness(
    make_pod: Callable[..., podenv.SidecarPod],
    weaviate_node: weaviate.WeaviateNode,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    member = make_pod(
        name=MEMBER, service_account="runestone-vector-test", condition=podenv.MEMBER_GATE
    )
    pod = watch_pod(member)
    sidecar = run_sidecar(
        member,
        *("--target", "member", "--engine", "weaviate", "--url", weaviate_node.url),
        *("--period", "1"),
        *("--api-key-file", str(weaviate_node.key_file), "--failure-threshold", "2"),
    )
    ready = pod.wait_for(lambda o: o.gate == "True", 180, "the member to be ready")
    assert ready.message == f"node {MEMBER} is HEALTHY and its shards are serving"
    assert weaviate.API_KEY not in sidecar.log()

    # A collection with two shards, then one of them read-only: the member is not ready, and
    # the condition names the shard.
    status, _ = weaviate_node.call(
        "POST",
        "/v1/schema",
        {"class": "Doc", "vectorizer": "none", "shardingConfig": {"desiredCount": 2}},
    )
    assert status == 200
    status, shards = weaviate_node.call("GET", "/v1/schema/Doc/shards")
    assert status == 200, shards
    shard = shards[0]["name"]
    mark = pod.count()
    status, answer = weaviate_node.call(
        "PUT", f"/v1/schema/Doc/shards/{shard}", {"status": "READONLY"}
    )
    assert status == 200, answer
    down = pod.wait_for(lambda o: o.gate == "False", 60, "False with a read-only shard", mark)
    print(f"read-only shard: {down.reason}: {down.message}")
    assert down.reason == "ShardsNotReady"
    assert f"Doc/{shard} READONLY" in str(down.message)

    mark = pod.count()
    weaviate_node.call("PUT", f"/v1/schema/Doc/shards/{shard}", {"status": "READY"})
    pod.wait_for(lambda o: o.gate == "True", 60, "True once the shard is READY", mark)

    mark = pod.count()
    weaviate_node.stop()
    gone = pod.wait_for(lambda o: o.gate == "False", 60, "False once Weaviate is gone", mark)
    print(f"weaviate stopped: {gone.reason}: {gone.message}")
    assert gone.reason in ("TargetUnreachable", "TargetNotReady")
