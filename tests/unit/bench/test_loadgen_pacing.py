"""bench/loadgen.py paced to a request rate: the connections together never start requests
faster than the rate (the bench compares gateways at the same load with it), and without a
rate each connection sends its next request when an answer ends. Against bench's own fast
upstream on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

import fast_upstream
import loadgen


@pytest.fixture
async def upstream_port() -> AsyncIterator[int]:
    sock = fast_upstream.listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    answers = fast_upstream.render(latency=0.001, chunks=4, gap=0.0)
    server = asyncio.ensure_future(fast_upstream.serve(sock, answers))
    try:
        yield port
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_paced_run_starts_no_more_requests_than_its_rate(
    upstream_port: int, stream: bool
) -> None:
    request = loadgen.chat_request("127.0.0.1", upstream_port, "m", "k", stream)
    samples = await loadgen.run(
        "127.0.0.1", upstream_port, request, stream=stream, concurrency=4, seconds=1.0, rate=40.0
    )
    assert samples.errors == 0
    # Slots at 0, 0.1, ... 0.9 s on each of 4 connections (offset by a quarter of a slot):
    # at most 40 start within the second; a loaded machine may start fewer, never more, and
    # each connection goes on past its first answer.
    assert 10 <= samples.completed <= 40
    assert len(samples.first_bytes) == samples.completed


async def test_an_unpaced_run_is_a_closed_loop(upstream_port: int) -> None:
    request = loadgen.chat_request("127.0.0.1", upstream_port, "m", "k", False)
    samples = await loadgen.run(
        "127.0.0.1", upstream_port, request, stream=False, concurrency=2, requests=30
    )
    assert samples.completed == 30
    assert samples.errors == 0
