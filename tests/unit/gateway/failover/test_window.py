"""The recent window of one target: latency bins, percentiles, buckets that age out of the
window and are reused, and recording that keeps no memory per request."""

from __future__ import annotations

import math
import tracemalloc

import pytest

from runestone_gateway.failover import window

BUCKET = window.BUCKET_SECONDS
START = 1000.0 * BUCKET  # a perf_counter reading, well past zero as on a running machine


def test_a_latency_reads_back_within_its_bins_resolution() -> None:
    seconds = 2.0**-13
    previous = 0
    while seconds < 2.0**11:
        index = window.latency_bin(seconds)
        assert index >= previous, "bins grow with the latency"
        previous = index
        assert abs(window.bin_seconds(index) - seconds) <= seconds / (2 * window.BINS_PER_DOUBLING)
        seconds *= 1.013


@pytest.mark.parametrize(
    ("seconds", "index"),
    [(0.0, 0), (1e-9, 0), (2.0**-13, 0), (3600.0, window.BINS - 1), (1e9, window.BINS - 1)],
)
def test_latencies_outside_the_bins_count_in_the_outermost(seconds: float, index: int) -> None:
    assert window.latency_bin(seconds) == index


def test_percentiles_by_nearest_rank() -> None:
    recent = window.Window()
    for millis in range(1, 101):
        recent.begin()
        recent.succeeded(START, millis / 1000)
    summary = recent.summary(START)
    assert (summary.requests, summary.failures, summary.inflight) == (100, 0, 100)
    for fraction, expected in ((0.5, 0.050), (0.99, 0.099), (1.0, 0.100), (0.0, 0.001)):
        measured = summary.percentile(fraction)
        assert measured is not None
        assert math.isclose(measured, expected, rel_tol=1 / 16), (fraction, measured)


def test_an_empty_window_has_no_rate_and_no_percentiles() -> None:
    summary = window.Window().summary(START)
    assert summary.requests == 0
    assert summary.success_rate is None
    assert summary.percentile(0.5) is None


def test_outcomes_and_in_flight() -> None:
    recent = window.Window()
    for _ in range(4):
        recent.begin()
    recent.succeeded(START, 0.01)
    recent.failed(START)
    recent.refused(START)
    recent.abandoned()
    summary = recent.summary(START)
    assert (summary.requests, summary.failures, summary.inflight) == (3, 1, 1)
    assert summary.success_rate == pytest.approx(2 / 3)
    assert sum(summary.histogram) == 1
    # The stream of the successful attempt breaks after its first event: a failure too.
    recent.ended(START + 1, broken=True)
    summary = recent.summary(START + 1)
    assert (summary.requests, summary.failures, summary.inflight) == (3, 2, 0)


def test_buckets_age_out_of_the_window_and_reading_changes_nothing() -> None:
    recent = window.Window()
    recent.begin()
    recent.succeeded(START, 0.01)
    assert recent.summary(START + window.WINDOW_SECONDS - BUCKET).requests == 1
    assert recent.summary(START + window.WINDOW_SECONDS).requests == 0
    assert recent.summary(START + 10 * window.WINDOW_SECONDS).requests == 0
    assert recent.summary(START).requests == 1, "a read cleared nothing"


def test_a_reused_bucket_starts_empty() -> None:
    recent = window.Window()
    recent.begin()
    recent.failed(START)
    later = START + window.WINDOW_SECONDS  # the same slot of the ring, one lap on
    recent.begin()
    recent.succeeded(later, 0.02)
    summary = recent.summary(later)
    assert (summary.requests, summary.failures) == (1, 0)


def test_counts_spread_over_buckets_add_up_until_each_ages_out() -> None:
    recent = window.Window()
    for step in range(window.BUCKETS):
        recent.begin()
        recent.succeeded(START + step * BUCKET, 0.01)
    end = START + (window.BUCKETS - 1) * BUCKET
    assert recent.summary(end).requests == window.BUCKETS
    assert recent.summary(end + BUCKET).requests == window.BUCKETS - 1
    # A record after a gap longer than the window clears every bucket it skipped.
    far = end + 3 * window.WINDOW_SECONDS
    recent.begin()
    recent.failed(far)
    assert (recent.summary(far).requests, recent.summary(far).failures) == (1, 1)


def test_a_slightly_older_reading_lands_in_a_current_bucket() -> None:
    """The end of a request is counted a moment after later attempts were recorded."""
    recent = window.Window()
    recent.begin()
    recent.succeeded(START + BUCKET, 0.01)
    recent.ended(START + BUCKET - 0.001, broken=True)
    summary = recent.summary(START + BUCKET)
    assert (summary.requests, summary.failures, summary.inflight) == (1, 1, 0)


def test_merged_windows_add_up() -> None:
    first, second = window.Window(), window.Window()
    for recent, latency in ((first, 0.01), (second, 1.0)):
        recent.begin()
        recent.succeeded(START, latency)
    second.begin()
    second.failed(START)
    both = window.merged([first.summary(START), second.summary(START)])
    assert (both.requests, both.failures, both.inflight) == (3, 1, 2)
    assert math.isclose(both.percentile(0.5) or 0, 0.01, rel_tol=1 / 16)
    assert math.isclose(both.percentile(1.0) or 0, 1.0, rel_tol=1 / 16)


def test_recording_keeps_no_memory_per_request() -> None:
    recent = window.Window()
    recent.begin()
    recent.succeeded(START, 0.01)  # the first record of a bucket clears it
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for index in range(20_000):
            now = START + index * 0.001
            recent.begin()
            recent.succeeded(now, 0.001 + index * 1e-6)
            recent.ended(now, broken=False)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # Only what the window's own code allocated: other threads of the test process allocate too.
    mine = [tracemalloc.Filter(inclusive=True, filename_pattern=window.__file__)]
    grown = sum(
        stat.size_diff
        for stat in after.filter_traces(mine).compare_to(before.filter_traces(mine), "filename")
    )
    assert grown < 4096, f"recording 20000 requests kept {grown} bytes"
