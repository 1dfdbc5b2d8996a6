"""The vector-store search as a cell of bench/gateway_overhead.py: only `direct` (the gateway's
query, sent to the Weaviate node) and `runestone` (the search through the gateway) measure it,
whole only; every other target is skipped with its reason, and so is pacing to a peer that has
no search cells."""

from __future__ import annotations

import pytest

import gateway_overhead
import gateways
import overhead_report
import peers
import vector_search

SKIPPED = ["litellm", "portkey", "floor-raw", "floor-asgi", *peers.TENSORZERO_THREADS]


def _table() -> dict[str, gateway_overhead.Measured]:
    requests = {
        "direct": vector_search.Request(7001, "/v1/graphql", {"query": "{ Get }"}, "node-key"),
        "gateway": vector_search.Request(
            7002, "/v1/vector_stores/vs_1/search", {"query": "q", "max_num_results": 5}, "rs-key"
        ),
    }
    search = gateway_overhead.search_measured(requests, None)
    return {**gateway_overhead.ENDPOINTS, overhead_report.SEARCH: search}


def _head(request: bytes) -> list[str]:
    return request.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")


@pytest.mark.parametrize("target", SKIPPED)
def test_targets_without_vector_stores_skip_search_saying_so(target: str) -> None:
    assert "vector store" in str(peers.skip_reason(target, "search"))


def test_direct_and_runestone_measure_search_and_before_does_not() -> None:
    assert peers.skip_reason("direct", "search") is None
    assert peers.skip_reason("runestone", "search") is None
    assert peers.skip_reason("before", "search")


def test_direct_sends_the_gateways_query_to_the_node_with_the_nodes_key() -> None:
    table = _table()
    upstream = gateways.Target("direct", 9000, None, None)
    node = gateway_overhead._driven(upstream, table["search"])
    assert node.port == 7001
    api, request = gateway_overhead.payload(node, "search", stream=False, table=table)
    assert api.path == "/v1/graphql"
    assert _head(request)[0] == "POST /v1/graphql HTTP/1.1"
    assert "authorization: Bearer node-key" in _head(request)
    assert request.endswith(b'{"query":"{ Get }"}')


def test_runestone_is_sent_the_search_on_its_own_port() -> None:
    table = _table()
    runestone = gateways.Target("runestone", 9001, "rs-key", None, 1)
    assert gateway_overhead._driven(runestone, table["search"]) is runestone
    _, request = gateway_overhead.payload(runestone, "search", stream=False, table=table)
    assert _head(request)[0] == "POST /v1/vector_stores/vs_1/search HTTP/1.1"
    assert "authorization: Bearer rs-key" in _head(request)
    assert request.endswith(b'{"query":"q","max_num_results":5}')


def test_search_is_measured_whole_only_and_chat_both_ways() -> None:
    table = _table()
    assert gateway_overhead._modes(table["search"]) == (False,)
    assert gateway_overhead._modes(table["chat"]) == (False, True)
    upstream = gateways.Target("direct", 9000, None, None)
    assert gateway_overhead._driven(upstream, table["chat"]) is upstream


def test_the_run_statement_says_what_search_does_and_why_it_is_not_paced() -> None:
    lines = overhead_report.run_statement(
        ["direct", "runestone", "tensorzero"], ["chat", "search"], at_rate_of="tensorzero"
    )
    said = [line.split(None, 1) for line in lines[1:]]
    assert [s[0] for s in said] == [
        "direct",
        "search:",
        "runestone",
        "search:",
        "tensorzero",
        "search:",
        overhead_report.AT_RATE,
    ]
    assert "Weaviate node" in said[1][1]
    assert "mock" in said[3][1]
    assert "not measured" in said[5][1]
    assert said[6][1].startswith("search: not paced: tensorzero")
