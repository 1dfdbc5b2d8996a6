"""The operator's own liveness: it is alive while watch events arrive or resync passes complete.
A silently stalled watch or a wedged event loop stops both, and the probe then fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    seconds_since_activity: float
    resync_passes: int
    watch_events: int

    def to_document(self) -> dict[str, float | int]:
        return {
            "secondsSinceActivity": round(self.seconds_since_activity, 3),
            "resyncPasses": self.resync_passes,
            "watchEvents": self.watch_events,
        }


class Stale(Exception):
    """Nothing happened for longer than the allowed age."""


class Heartbeat:
    """Counts watch events and resync passes and remembers when the last one happened."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self._resync_passes = 0
        self._watch_events = 0

    def watch_event(self) -> None:
        self._watch_events += 1
        self._last = self._clock()

    def resync_pass(self) -> None:
        self._resync_passes += 1
        self._last = self._clock()

    def report(self) -> Report:
        return Report(self._clock() - self._last, self._resync_passes, self._watch_events)

    def check(self, max_age: float) -> Report:
        """The report; Stale when the last activity is older than `max_age` seconds."""
        report = self.report()
        if report.seconds_since_activity > max_age:
            raise Stale(
                f"no watch event or resync pass for {report.seconds_since_activity:.0f}s "
                f"(allowed: {max_age:.0f}s)"
            )
        return report
