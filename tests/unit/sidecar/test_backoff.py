"""Backoff grows exponentially, is jittered, and never exceeds its cap."""

from __future__ import annotations

import random

from runestone_sidecar import backoff


def test_delays_grow_then_stay_under_the_cap() -> None:
    policy = backoff.Backoff(base=0.5, factor=2, cap=8)
    rng = random.Random(7)
    for attempt, step in [(1, 0.5), (2, 1), (3, 2), (4, 4), (5, 8), (6, 8), (40, 8)]:
        for _ in range(50):
            delay = policy.delay(attempt, rng)
            assert step / 2 <= delay <= step


def test_delays_are_jittered() -> None:
    policy = backoff.Backoff()
    rng = random.Random(1)
    assert len({round(policy.delay(5, rng), 6) for _ in range(20)}) > 10
