"""The operator's own liveness: it is alive while watch events arrive, resync passes complete or
leader-election rounds reach the API server (a follower runs no resync). A silently stalled
watch or a wedged event loop stops them, and the probe then fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    seconds_since_activity: float
    resync_passes: int
    watch_events: int
    election_rounds: int = 0

    def to_document(self) -> dict[str, float | int]:
        return {
            "secondsSinceActivity": round(self.seconds_since_activity, 3),
            "resyncPasses": self.resync_passes,
            "watchEvents": self.watch_events,
            "electionRounds": self.election_rounds,
        }


class Stale(Exception):
    """Nothing happened for longer than the allowed age."""


class Heartbeat:
    """Counts watch events, resync passes and election rounds, and remembers when the last one
    happened."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self._resync_passes = 0
        self._watch_events = 0
        self._election_rounds = 0

    def watch_event(self) -> None:
        self._watch_events += 1
        self._last = self._clock()

    def resync_pass(self) -> None:
        self._resync_passes += 1
        self._last = self._clock()

    def election_round(self) -> None:
        self._election_rounds += 1
        self._last = self._clock()

    def report(self) -> Report:
        return Report(
            self._clock() - self._last,
            self._resync_passes,
            self._watch_events,
            self._election_rounds,
        )

    def check(self, max_age: float) -> Report:
        """The report; Stale when the last activity is older than `max_age` seconds."""
        report = self.report()
        if report.seconds_since_activity > max_age:
            raise Stale(
                "no watch event, resync pass or leader-election round for "
                f"{report.seconds_since_activity:.0f}s "
                f"(allowed: {max_age:.0f}s)"
            )
        return report
