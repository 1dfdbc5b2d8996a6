"""A reconcile that takes its time, for the work-queue and drain tests: it notes each key it
starts, sleeps, and notes the keys it was cancelled in."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from runestone_operator.core import workqueue

K = TypeVar("K")


def reconcile(
    seconds: float, started: list[K], cancelled: list[K]
) -> Callable[[K], Awaitable[workqueue.Outcome]]:
    async def handle(key: K) -> workqueue.Outcome:
        started.append(key)
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            cancelled.append(key)
            raise
        return workqueue.Outcome()

    return handle
