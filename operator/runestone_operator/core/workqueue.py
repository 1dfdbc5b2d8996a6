"""A keyed work queue in the manner of controller-runtime's: every trigger (a watch event, a
resync, a ProviderPool change, a timer) just adds a key; workers reconcile keys one at a time per
key, coalescing repeated adds; failures come back with exponential backoff. A queue can stop at
once (its reconciles cancelled) or drain (no new reconcile starts; running ones finish, up to a
deadline).

Pure asyncio: no kopf, no Kubernetes client."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Outcome:
    """How a reconcile ended."""

    retry: bool = False
    """Try again after a backoff that doubles with each consecutive retry of the key."""
    requeue_after: float | None = None
    """Reconcile again after this many seconds (e.g. when a certificate is due for renewal)."""
    degraded: str | None = None
    """The reason of the Degraded condition the reconcile left its object with, if any (the
    operator's metrics count them)."""


def wake_at(now: datetime.datetime, *moments: datetime.datetime | None) -> Outcome:
    """Reconcile again a second after the earliest of `moments` (a certificate due for renewal,
    a replaced key's grace period ending); no wake-up when none is given."""
    due = min((moment for moment in moments if moment is not None), default=None)
    if due is None:
        return Outcome()
    return Outcome(requeue_after=max((due - now).total_seconds(), 0.0) + 1.0)


@dataclass(frozen=True)
class Backoff:
    base: float = 1.0
    cap: float = 300.0

    def delay(self, failures: int) -> float:
        """The wait before attempt number `failures + 1` (failures >= 1)."""
        return float(min(self.base * 2 ** max(failures - 1, 0), self.cap))


@dataclass(frozen=True)
class Drained(Generic[K]):
    """How a drain ended: the keys whose running reconcile finished, and those the deadline cut
    off (cancelled halfway)."""

    finished: tuple[K, ...]
    cancelled: tuple[K, ...]


class WorkQueue(Generic[K]):
    """Holds keys to reconcile. `add` is safe to call from any coroutine on the loop."""

    def __init__(
        self,
        handler: Callable[[K], Awaitable[Outcome]],
        *,
        workers: int = 4,
        backoff: Backoff | None = None,
        waited: Callable[[float], None] | None = None,
    ) -> None:
        """`waited`, when given, is told how many seconds each key waited for a worker."""
        self._handler = handler
        self._workers = workers
        self._backoff = backoff or Backoff()
        self._waited = waited
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._queued: dict[K, float] = {}
        """Keys waiting for a worker, with the loop time they were added."""
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._tasks: dict[asyncio.Task[None], K | None] = {}
        """The worker tasks, each with the key it is reconciling (None while idle)."""
        self._closed = False

    def add(self, key: K) -> None:
        """Reconcile `key` soon; adding a queued key again does nothing, adding an active key
        runs it once more after the current run. A closed queue ignores it."""
        if self._closed:
            return
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued[key] = asyncio.get_running_loop().time()
            self._queue.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        """Reconcile `key` after `delay` seconds, unless an earlier wake-up is already set."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        existing = self._timers.get(key)
        if existing is not None:
            if existing[0] <= due:
                return
            existing[1].cancel()
        handle = loop.call_at(due, self._fire, key)
        self._timers[key] = (due, handle)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def pending(self) -> int:
        return len(self._queued) + len(self._active)

    def depth(self) -> int:
        """Keys waiting for a worker."""
        return len(self._queued)

    def in_flight(self) -> int:
        """Reconciles running now."""
        return len(self._active)

    def running(self) -> tuple[K, ...]:
        """The keys being reconciled now."""
        return tuple(self._active)

    async def _process(self, key: K) -> None:
        try:
            outcome = await self._handler(key)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a worker must survive anything one reconcile raises
            logger.exception("reconcile of %s failed unexpectedly: %s", key, error)
            outcome = Outcome(retry=True)
        if outcome.retry:
            count = self._failures.get(key, 0) + 1
            self._failures[key] = count
            self.add_after(key, self._backoff.delay(count))
        else:
            self._failures.pop(key, None)
        if outcome.requeue_after is not None:
            self.add_after(key, outcome.requeue_after)

    async def _worker(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        while not self._closed:
            try:
                key = await self._queue.get()
            except asyncio.CancelledError:
                if self._closed:  # an idle worker stopped by a drain
                    return
                raise
            added = self._queued.pop(key, None)
            if self._closed:
                return
            if added is not None and self._waited is not None:
                self._waited(asyncio.get_running_loop().time() - added)
            self._active.add(key)
            self._tasks[task] = key
            try:
                await self._process(key)
            finally:
                self._tasks[task] = None
                self._active.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)

    async def run(self) -> None:
        """Run the workers until cancelled, or until a drain has let them finish."""
        tasks = [
            asyncio.create_task(self._worker(), name=f"worker-{i}") for i in range(self._workers)
        ]
        self._tasks = dict.fromkeys(tasks)
        try:
            # Workers end only by cancellation (a reconcile's own errors never reach them).
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _close(self) -> list[asyncio.Task[None]]:
        """Take no new key; return the workers still reconciling one, after stopping the idle."""
        self._closed = True
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        busy = []
        for task, key in self._tasks.items():
            if key is None:
                task.cancel()
            else:
                busy.append(task)
        return busy

    async def drain(self, seconds: float) -> Drained[K]:
        """Start no new reconcile (adds are ignored from now on); let the running ones finish,
        for at most `seconds`; cancel those still running then."""
        busy = {task: self._tasks[task] for task in self._close()}
        if not busy:
            return Drained((), ())
        _, late = await asyncio.wait(busy, timeout=seconds)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
        done = tuple(key for task, key in busy.items() if task not in late and key is not None)
        cut = tuple(key for task, key in busy.items() if task in late and key is not None)
        return Drained(done, cut)
