"""Search pages: which hits a page holds, whether more follow, and the `next_page` tokens that
are sent back as `page` (refused when they were not made here)."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_gateway import errors
from runestone_gateway.retrieval import search


def hit(file_id: str, seq: int) -> dict[str, Any]:
    return {"fileId": file_id, "seq": seq, "filename": f"{file_id}.txt", "text": "t"}


def test_a_page_says_whether_more_follow() -> None:
    hits = [(hit("a", n), 1.0 - n / 10) for n in range(5)]
    first, more = search.page(hits, 0.0, 2)
    assert [h["score"] for h in first] == [1.0, 0.9]
    assert more
    last, more = search.page(hits, 0.0, 2, offset=4)
    assert [h["score"] for h in last] == [0.6]
    assert not more
    exact, more = search.page(hits, 0.0, 5)
    assert len(exact) == 5
    assert not more


def test_the_same_chunk_from_several_queries_counts_once() -> None:
    hits = [(hit("a", 0), 0.5), (hit("a", 0), 0.9), (hit("b", 0), 0.4)]
    found, more = search.page(hits, 0.0, 1)
    assert [(h["file_id"], h["score"]) for h in found] == [("a", 0.9)]
    assert more
    found, more = search.page(hits, 0.0, 2)
    assert len(found) == 2
    assert not more


def test_hits_under_the_threshold_are_no_more_results() -> None:
    hits = [(hit("a", 0), 0.9), (hit("a", 1), 0.2)]
    found, more = search.page(hits, 0.5, 1)
    assert len(found) == 1
    assert not more


def test_results_keeps_its_signature() -> None:
    assert len(search.results([(hit("a", 0), 0.9), (hit("b", 0), 0.8)], 0.0, 1)) == 1


def test_tokens_round_trip() -> None:
    assert search.offset(None) == 0
    token = search.page_token(40)
    assert token is not None
    assert search.offset(token) == 40
    assert search.page_token(search.MAX_OFFSET + 1) is None


@pytest.mark.parametrize("token", ["", "40", "vsp_", "vsp_!!", "vsp_LTE", "vsp_MA", "vsp_MTAwMQ"])
def test_tokens_not_made_here_are_refused(token: str) -> None:
    with pytest.raises(errors.GatewayError) as refused:
        search.offset(token)
    assert refused.value.status == 400
    assert refused.value.param == "page"


def test_equal_scores_keep_the_order_weaviate_answered() -> None:
    hits = [(hit("z", 0), 0.5), (hit("a", 0), 0.5)]
    assert [h["file_id"] for h in search.page(hits, 0.0, 2)[0]] == ["z", "a"]
