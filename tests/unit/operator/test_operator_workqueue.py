"""The work queue coalesces adds, never runs one key twice at once, and backs off on failure."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from runestone_operator.core import workqueue
from unit.operator import slow


@contextlib.asynccontextmanager
async def running(queue: workqueue.WorkQueue[str]) -> AsyncIterator[None]:
    task = asyncio.create_task(queue.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _until(check: Callable[[], bool]) -> None:
    """Poll `check` (the queue offers no event to wait on) for at most ten seconds."""
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def _recorder(
    calls: list[str], gate: asyncio.Event | None = None, outcome: workqueue.Outcome | None = None
) -> Callable[[str], Awaitable[workqueue.Outcome]]:
    async def handle(key: str) -> workqueue.Outcome:
        calls.append(key)
        if gate is not None:
            await gate.wait()
        return outcome or workqueue.Outcome()

    return handle


async def test_repeated_adds_of_a_queued_key_coalesce() -> None:
    calls: list[str] = []
    queue = workqueue.WorkQueue(_recorder(calls), workers=1)
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    async with running(queue):
        await _until(lambda: queue.pending() == 0 and len(calls) >= 2)
    assert calls == ["a", "b"]


async def test_a_key_added_while_running_runs_once_more_afterwards() -> None:
    calls: list[str] = []
    gate = asyncio.Event()
    queue = workqueue.WorkQueue(_recorder(calls, gate), workers=4)
    async with running(queue):
        queue.add("a")
        await _until(lambda: calls == ["a"])
        queue.add("a")
        queue.add("a")
        await asyncio.sleep(0.05)
        assert calls == ["a"]  # never concurrently with itself
        gate.set()
        await _until(lambda: calls == ["a", "a"] and queue.pending() == 0)


async def test_failures_are_retried_with_growing_backoff() -> None:
    calls: list[str] = []

    async def flaky(key: str) -> workqueue.Outcome:
        calls.append(key)
        if len(calls) < 3:
            raise RuntimeError("boom")
        return workqueue.Outcome()

    queue = workqueue.WorkQueue(flaky, workers=1, backoff=workqueue.Backoff(base=0.01, cap=0.05))
    async with running(queue):
        queue.add("a")
        await _until(lambda: len(calls) == 3 and queue.pending() == 0)
    assert queue.failures("a") == 0  # success resets the count


@pytest.mark.parametrize(("failures", "delay"), [(1, 1.0), (2, 2.0), (3, 4.0), (10, 300.0)])
def test_backoff_delays(failures: int, delay: float) -> None:
    assert workqueue.Backoff(base=1.0, cap=300.0).delay(failures) == delay


async def test_requeue_after_runs_the_key_again() -> None:
    calls: list[str] = []
    queue = workqueue.WorkQueue(
        _recorder(calls, outcome=workqueue.Outcome(requeue_after=0.01)), workers=1
    )
    async with running(queue):
        queue.add("a")
        await _until(lambda: len(calls) >= 3)


async def test_earlier_wakeup_wins() -> None:
    calls: list[str] = []
    queue = workqueue.WorkQueue(_recorder(calls), workers=1)
    async with running(queue):
        queue.add_after("a", 60)
        queue.add_after("a", 0.01)
        await _until(lambda: calls == ["a"])


async def test_a_drain_lets_running_reconciles_finish_and_starts_none() -> None:
    calls: list[str] = []
    cancelled: list[str] = []
    queue = workqueue.WorkQueue(slow.reconcile(0.2, calls, cancelled), workers=1)
    task = asyncio.create_task(queue.run())
    queue.add("a")
    queue.add("b")  # waits: one worker
    await _until(lambda: calls == ["a"])
    assert queue.running() == ("a",)
    drained = await queue.drain(5)
    assert drained == workqueue.Drained(finished=("a",), cancelled=())
    queue.add("c")  # ignored after a drain
    queue.add_after("d", 0)
    await asyncio.sleep(0.05)
    assert calls == ["a"]
    assert not cancelled
    async with asyncio.timeout(1):
        await task  # the workers ended by themselves


async def test_a_drain_cancels_what_outlives_its_deadline() -> None:
    calls: list[str] = []
    cancelled: list[str] = []
    queue = workqueue.WorkQueue(slow.reconcile(60, calls, cancelled), workers=2)
    task = asyncio.create_task(queue.run())
    queue.add("slow")
    await _until(lambda: calls == ["slow"])
    loop = asyncio.get_running_loop()
    started = loop.time()
    drained = await queue.drain(0.3)
    assert 0.3 <= loop.time() - started < 2
    assert drained == workqueue.Drained(finished=(), cancelled=("slow",))
    assert cancelled == ["slow"]
    async with asyncio.timeout(1):
        await task


async def test_an_idle_queue_drains_at_once() -> None:
    queue = workqueue.WorkQueue(_recorder([]), workers=3)
    task = asyncio.create_task(queue.run())
    await asyncio.sleep(0)
    assert await queue.drain(10) == workqueue.Drained((), ())
    async with asyncio.timeout(1):
        await task


async def test_wait_time_depth_and_in_flight_are_reported() -> None:
    waits: list[float] = []
    gate = asyncio.Event()
    calls: list[str] = []
    queue = workqueue.WorkQueue(_recorder(calls, gate), workers=1, waited=waits.append)
    queue.add("a")
    queue.add("b")
    await asyncio.sleep(0.05)
    assert (queue.depth(), queue.in_flight()) == (2, 0)
    async with running(queue):
        await _until(lambda: calls == ["a"])
        assert (queue.depth(), queue.in_flight()) == (1, 1)
        gate.set()
        await _until(lambda: queue.pending() == 0)
    assert len(waits) == 2
    assert waits[0] >= 0.05
