"""Liveness fails when neither watch events, resync passes nor leader-election rounds happened
for too long."""

from __future__ import annotations

import pytest

from runestone_operator.core import health


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_activity_keeps_the_operator_alive() -> None:
    clock = Clock()
    beat = health.Heartbeat(clock)
    clock.now += 50
    beat.watch_event()
    clock.now += 50
    beat.resync_pass()
    clock.now += 10
    report = beat.check(max_age=60)
    assert report.to_document() == {
        "secondsSinceActivity": 10.0,
        "resyncPasses": 1,
        "watchEvents": 1,
        "electionRounds": 0,
    }


def test_a_follower_is_kept_alive_by_its_election_rounds() -> None:
    clock = Clock()
    beat = health.Heartbeat(clock)
    for _ in range(10):
        clock.now += 30
        beat.election_round()
    assert beat.check(max_age=60).election_rounds == 10


def test_silence_fails_liveness() -> None:
    clock = Clock()
    beat = health.Heartbeat(clock)
    clock.now += 61
    with pytest.raises(
        health.Stale, match="no watch event, resync pass or leader-election round for 61s"
    ):
        beat.check(max_age=60)
