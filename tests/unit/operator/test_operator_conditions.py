"""Conditions move their lastTransitionTime only when their status changes."""

from __future__ import annotations

import datetime

from runestone_operator.core import conditions
from runestone_operator.core.conditions import Observation

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=1)


def test_transition_time_moves_only_on_status_change() -> None:
    first = conditions.merge(
        [], [Observation("Ready", "False", "PodsNotReady", "0/1 pods ready")], 1, T0
    )
    same = conditions.merge(first, [Observation("Ready", "False", "PodsNotReady", "0/2")], 2, T1)
    assert same[0].last_transition_time == T0
    assert same[0].message == "0/2"
    assert same[0].observed_generation == 2
    flipped = conditions.merge(same, [Observation("Ready", "True", "Available", "2/2")], 2, T1)
    assert flipped[0].last_transition_time == T1


def test_order_and_unobserved_conditions_are_kept() -> None:
    existing = conditions.merge([], [Observation("Custom", "True", "Why", "m")], 1, T0)
    merged = conditions.merge(
        existing,
        [
            Observation("Degraded", "False", "Reconciled", ""),
            Observation("Ready", "True", "Available", ""),
        ],
        1,
        T1,
    )
    assert [c.type for c in merged] == ["Ready", "Degraded", "Custom"]
    assert len({c.type for c in merged}) == len(merged)
    assert conditions.find(merged, "Custom") == existing[0]
    assert conditions.find(merged, "Progressing") is None
