"""A time limit on being idle that costs nothing per use: the owner notes when it went idle (a
loop time, or None while busy), and one timer looks again only when the limit could next be
reached. Setting and cancelling a timer per request or per chunk is what this replaces."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Inactivity:
    """Calls `expire()` once `idle_since()` has named the same moment for `seconds`. While it
    returns None (busy), the clock does not run and the timer looks again `seconds` later."""

    __slots__ = ("_expire", "_handle", "_idle_since", "_loop", "seconds")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        seconds: float,
        idle_since: Callable[[], float | None],
        expire: Callable[[], None],
    ) -> None:
        self._loop = loop
        self.seconds = seconds
        self._idle_since = idle_since
        self._expire = expire
        self._handle: asyncio.TimerHandle | None = loop.call_later(seconds, self._check)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        now = self._loop.time()
        since = self._idle_since()
        if since is not None and now - since >= self.seconds:
            self._expire()
            return
        when = now + self.seconds if since is None else since + self.seconds
        self._handle = self._loop.call_at(when, self._check)
