"""A clean stop drains: the operator's drain lets running reconciles finish within its deadline,
and when one outlives it, cancels it at the deadline and says so (naming it) in the log and in
its exit status."""

from __future__ import annotations

import asyncio
import logging

import pytest

from runestone_operator import app, cli, handlers
from runestone_operator.core import workqueue
from unit.operator import slow

KEY: handlers.Key = ("VectorCluster", "team", "docs")


def _queue(seconds: float, cancelled: list[handlers.Key]) -> workqueue.WorkQueue[handlers.Key]:
    started: list[handlers.Key] = []
    return workqueue.WorkQueue(slow.reconcile(seconds, started, cancelled), workers=2)


async def _running(queue: workqueue.WorkQueue[handlers.Key]) -> asyncio.Task[None]:
    task = asyncio.create_task(queue.run())
    queue.add(KEY)
    async with asyncio.timeout(5):
        while queue.in_flight() == 0:  # noqa: ASYNC110 - the queue offers no event to wait on
            await asyncio.sleep(0.01)
    return task


async def test_a_reconcile_within_the_deadline_finishes(caplog: pytest.LogCaptureFixture) -> None:
    cancelled: list[handlers.Key] = []
    queue = _queue(0.2, cancelled)
    task = await _running(queue)
    with caplog.at_level(logging.WARNING):
        assert await app.drain(queue, 5) is True
    assert not cancelled
    assert "draining: 1 reconcile(s) running (VectorCluster team/docs)" in caplog.text
    assert "drained: 1 reconcile(s) finished: VectorCluster team/docs" in caplog.text
    await task


async def test_a_reconcile_past_the_deadline_is_cancelled_and_the_exit_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancelled: list[handlers.Key] = []
    queue = _queue(60, cancelled)
    task = await _running(queue)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.WARNING):
        drained = await app.drain(queue, 0.5)
    assert 0.5 <= loop.time() - started < 2.0  # cut at the deadline, not at the end
    assert drained is False
    assert cancelled == [KEY]
    assert (
        "drain incomplete: the deadline of 0.5s passed; cancelled 1 reconcile(s) halfway: "
        "VectorCluster team/docs" in caplog.text
    )
    assert cli.exit_status(drained) == cli.DRAIN_INCOMPLETE != 0
    assert cli.exit_status(True) == 0
    await task
