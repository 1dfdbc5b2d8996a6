"""`metrics.observe_all`, which the request ledger uses to add a batch of samples to a histogram
(one update per bucket reached), gives the exposition `observe` gives one value at a time: the
same buckets (a value on a bound counts in that bound's bucket), count and sum."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from runestone_gateway.telemetry import metrics

VALUES = [0.0, 0.00005, 0.0001, 0.0003, 0.0025, 0.0025, 0.07, 0.1, 3.0, 250.0, 1e9]


def _exposition(batched: bool) -> list[str]:
    registry = CollectorRegistry()
    histogram = Histogram("t", "t", ["op"], buckets=metrics.OVERHEAD_BUCKETS, registry=registry)
    child = histogram.labels("chat")
    if batched:
        metrics.observe_all(child, VALUES[:4])
        metrics.observe_all(child, VALUES[4:])
    else:
        for value in VALUES:
            child.observe(value)
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if "_created" not in line]


def test_a_batch_gives_the_exposition_of_one_value_at_a_time() -> None:
    one_by_one = _exposition(batched=False)
    assert 't_count{op="chat"} 11.0' in one_by_one
    assert 't_bucket{le="0.0001",op="chat"} 3.0' in one_by_one
    assert _exposition(batched=True) == one_by_one
