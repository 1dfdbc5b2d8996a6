"""A keyed work queue in the manner of controller-runtime's: every trigger (a watch event, a
resync, a ProviderPool change, a timer) just adds a key; workers reconcile keys one at a time per
key, coalescing repeated adds; failures come back with exponential backoff.

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


class WorkQueue(Generic[K]):
    """Holds keys to reconcile. `add` is safe to call from any coroutine on the loop."""

    def __init__(
        self,
        handler: Callable[[K], Awaitable[Outcome]],
        *,
        workers: int = 4,
        backoff: Backoff | None = None,
    ) -> None:
        self._handler = handler
        self._workers = workers
        self._backoff = backoff or Backoff()
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}

    def add(self, key: K) -> None:
        """Reconcile `key` soon; adding a queued key again does nothing, adding an active key
        runs it once more after the current run."""
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        """Reconcile `key` after `delay` seconds, unless an earlier wake-up is already set."""
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
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            try:
                await self._process(key)
            finally:
                self._active.discard(key)
                if key in self._dirty:
                    self._dirty.discard(key)
                    self.add(key)

    async def run(self) -> None:
        """Run the workers until cancelled."""
        tasks = [
            asyncio.create_task(self._worker(), name=f"worker-{i}") for i in range(self._workers)
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for _, handle in self._timers.values():
                handle.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
