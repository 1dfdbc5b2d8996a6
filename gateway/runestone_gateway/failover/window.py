"""What one target did lately: attempts, failures and a latency histogram over the last five
minutes, and how many requests it has in flight, for the health port's model view.

Recording is on the request path, so it is a few integer updates into lists allocated once:
time is cut into BUCKETS buckets of BUCKET_SECONDS in a ring, and latencies fall into bins
spaced logarithmically (BINS_PER_DOUBLING per doubling, so a percentile read back is within
about 6 % of the true value). Sums and percentiles are computed only when the view is read, and
reading changes nothing: buckets that have aged out are skipped, and cleared by the next record.

Times are `time.perf_counter()` readings, the clock the dispatch already reads per attempt."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass

BUCKET_SECONDS = 10
BUCKETS = 30
WINDOW_SECONDS = BUCKET_SECONDS * BUCKETS
"""The window the counts cover: its last bucket is still filling, so 290 to 300 s of history."""

BINS_PER_DOUBLING = 8
MIN_EXPONENT = -12
"""`math.frexp` exponent of the lowest bin: latencies from 2**-13 s (0.12 ms); less counts there."""
MAX_EXPONENT = 11
"""Of the highest bin: up to 2**11 s (34 min); more counts there."""
BINS = (MAX_EXPONENT - MIN_EXPONENT + 1) * BINS_PER_DOUBLING


def _upper_edges() -> list[float]:
    """Where each bin but the last ends: 2**e * (0.5 + (step + 1) / (2 * BINS_PER_DOUBLING))."""
    return [
        math.ldexp(0.5 + (step + 1) / (2 * BINS_PER_DOUBLING), exponent)
        for exponent in range(MIN_EXPONENT, MAX_EXPONENT + 1)
        for step in range(BINS_PER_DOUBLING)
    ][:-1]


_EDGES = _upper_edges()
REQUESTS = BINS
"""Index of a bucket's request count, after its latency bins."""
FAILURES = BINS + 1


def latency_bin(seconds: float) -> int:
    """The histogram bin of a latency (one search in C; out-of-range ones in the end bins)."""
    return bisect.bisect_right(_EDGES, seconds)


def bin_seconds(index: int) -> float:
    """The middle of a bin's range, the value a percentile that lands in it reads as."""
    exponent, step = divmod(index, BINS_PER_DOUBLING)
    low = 0.5 + step / (2 * BINS_PER_DOUBLING)
    return math.ldexp(low + 1 / (4 * BINS_PER_DOUBLING), exponent + MIN_EXPONENT)


@dataclass(frozen=True)
class Summary:
    """A window read at one moment."""

    requests: int
    """Attempts answered or failed in the window (a stream counts when its first event came)."""
    failures: int
    """Of them, those that failed (including streams that broke after their first event)."""
    inflight: int
    histogram: tuple[int, ...]
    """Latency samples per bin: successful attempts, to their answer or first event."""

    @property
    def success_rate(self) -> float | None:
        if not self.requests:
            return None
        return max(self.requests - self.failures, 0) / self.requests

    def percentile(self, fraction: float) -> float | None:
        """Seconds under which `fraction` of the latency samples fall (None without samples)."""
        total = sum(self.histogram)
        if not total:
            return None
        rank = max(math.ceil(fraction * total), 1)
        seen = 0
        for index, count in enumerate(self.histogram):
            seen += count
            if seen >= rank:
                return bin_seconds(index)
        raise AssertionError("unreachable: the ranks add up to the total")


def merged(summaries: Iterable[Summary]) -> Summary:
    """Several targets' windows as one (a model's, over its providers)."""
    requests = failures = inflight = 0
    histogram = [0] * BINS
    for summary in summaries:
        requests += summary.requests
        failures += summary.failures
        inflight += summary.inflight
        for index, count in enumerate(summary.histogram):
            histogram[index] += count
    return Summary(requests, failures, inflight, tuple(histogram))


class Window:
    """One target's recent record. Not thread-safe: one event loop writes and reads it.

    Each bucket is one list: its latency bins, then its request and failure counts. Recording
    into the current bucket costs a comparison of the clock with the bucket's end; moving on to
    the next bucket (once per BUCKET_SECONDS at most) clears the buckets it reuses."""

    __slots__ = ("_bucket", "_buckets", "_ends_at", "_period", "inflight")

    def __init__(self) -> None:
        self.inflight = 0
        """Attempts under way, and successful ones whose request has not ended yet."""
        self._buckets = [[0] * (BINS + 2) for _ in range(BUCKETS)]
        self._period = 0
        """The newest bucket period written to (perf_counter // BUCKET_SECONDS)."""
        self._bucket = self._buckets[0]
        """The newest period's bucket, written while the clock is below `_ends_at`."""
        self._ends_at = float(BUCKET_SECONDS)

    def begin(self) -> None:
        """An attempt starts."""
        self.inflight += 1

    def succeeded(self, now: float, seconds: float) -> None:
        """The attempt answered (or streamed its first event) after `seconds`. It stays in
        flight until `ended`."""
        bucket = self._bucket if now < self._ends_at else self._roll(now)
        bucket[REQUESTS] += 1
        bucket[bisect.bisect_right(_EDGES, seconds)] += 1

    def failed(self, now: float) -> None:
        """The attempt failed; it is no longer in flight."""
        self.inflight -= 1
        bucket = self._bucket if now < self._ends_at else self._roll(now)
        bucket[REQUESTS] += 1
        bucket[FAILURES] += 1

    def refused(self, now: float) -> None:
        """The upstream refused the request as the client's mistake: it answered, so this is
        no failure of the upstream, nor a latency worth counting; no longer in flight."""
        self.inflight -= 1
        bucket = self._bucket if now < self._ends_at else self._roll(now)
        bucket[REQUESTS] += 1

    def abandoned(self) -> None:
        """The attempt ended without an outcome (the client went away first)."""
        self.inflight -= 1

    def ended(self, now: float, *, broken: bool) -> None:
        """The request a successful attempt served has ended; `broken` when its stream failed
        after the first event, which then counts as a failure too."""
        self.inflight -= 1
        if broken:
            bucket = self._bucket if now < self._ends_at else self._roll(now)
            bucket[FAILURES] += 1

    def summary(self, now: float) -> Summary:
        """The buckets still inside the window at `now`, summed."""
        current = int(now // BUCKET_SECONDS)
        newest = self._period
        kept = [
            self._buckets[period % BUCKETS]
            for period in range(max(current, newest) - BUCKETS + 1, min(current, newest) + 1)
        ]
        if not kept:
            return Summary(0, 0, self.inflight, (0,) * BINS)
        sums = [sum(column) for column in zip(*kept, strict=True)]
        return Summary(sums[REQUESTS], sums[FAILURES], self.inflight, tuple(sums[:BINS]))

    def _roll(self, now: float) -> list[int]:
        """The bucket for `now` once the current one has ended: its period's, cleared along
        with those of the periods skipped since. (A reading from before the current bucket's
        end, such as a request's end counted after later records, lands in the current one.)"""
        period = int(now // BUCKET_SECONDS)
        for skipped in range(max(self._period + 1, period - BUCKETS + 1), period + 1):
            self._buckets[skipped % BUCKETS][:] = _EMPTY
        self._period = period
        self._bucket = self._buckets[period % BUCKETS]
        self._ends_at = (period + 1) * float(BUCKET_SECONDS)
        return self._bucket


_EMPTY = [0] * (BINS + 2)
