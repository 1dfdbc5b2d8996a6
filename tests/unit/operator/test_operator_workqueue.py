"""The work queue coalesces adds, never runs one key twice at once, and backs off on failure."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from runestone_operator.core import workqueue


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
