"""Hysteresis: thresholds decide verdicts; single blips below a threshold change nothing."""

from __future__ import annotations

import pytest

from runestone_sidecar import conditions, hysteresis
from runestone_sidecar.probes import base

OK = base.success("GET /readyz answered 200")
DOWN = base.failure(conditions.TARGET_NOT_READY, "GET /readyz answered 503")
REFUSED = base.failure(conditions.TARGET_UNREACHABLE, "connection refused")
BEHIND = base.catching_up(conditions.INDEX_BEHIND, "5000 vectors waiting to be indexed")


def run(results: list[base.ProbeResult], success: int = 2, failure: int = 3) -> list[bool]:
    state = hysteresis.Hysteresis(success, failure)
    desired = hysteresis.starting(success)
    verdicts = []
    for result in results:
        state, desired = hysteresis.step(state, desired, result)
        assert desired.ready == state.ready
        verdicts.append(desired.ready)
    return verdicts


def test_needs_n_consecutive_successes_to_turn_true() -> None:
    assert run([OK, OK, OK]) == [False, True, True]
    assert run([OK, DOWN, OK, OK]) == [False, False, False, True]


def test_needs_m_consecutive_failures_to_turn_false() -> None:
    assert run([OK, OK, DOWN, DOWN, DOWN]) == [False, True, True, True, False]


def test_flapping_inside_the_thresholds_never_changes_the_verdict() -> None:
    # Up: two failures and a success, forever, never reaches three failures in a row.
    up = run([OK, OK] + [DOWN, DOWN, OK] * 10)
    assert up[1:] == [True] * (len(up) - 1)
    # Down: a success then a failure never reaches two successes in a row.
    down = run([DOWN, DOWN, DOWN] + [OK, DOWN] * 10)
    assert down == [False] * len(down)


def test_starting_then_failure_says_what_failed() -> None:
    state = hysteresis.Hysteresis(1, 3)
    desired = hysteresis.starting(1)
    assert desired.reason == conditions.STARTING
    state, desired = hysteresis.step(state, desired, REFUSED)
    assert (desired.ready, desired.reason, desired.message) == (
        False,
        conditions.TARGET_UNREACHABLE,
        "connection refused",
    )


def test_while_not_ready_the_message_follows_the_latest_failure() -> None:
    state = hysteresis.Hysteresis(1, 1)
    desired = hysteresis.starting(1)
    state, desired = hysteresis.step(state, desired, REFUSED)
    state, desired = hysteresis.step(state, desired, DOWN)
    assert desired.reason == conditions.TARGET_NOT_READY


def test_while_ready_a_failure_below_threshold_keeps_the_ready_message() -> None:
    state = hysteresis.Hysteresis(1, 3)
    state, desired = hysteresis.step(state, hysteresis.starting(1), OK)
    before = desired
    state, desired = hysteresis.step(state, desired, DOWN)
    assert desired == before


def test_a_target_catching_up_is_held_back_but_never_taken_out() -> None:
    # Not ready yet: catching up is a failure, and its message is what the pod says.
    assert run([BEHIND, BEHIND, OK, OK]) == [False, False, False, True]
    assert run([OK, BEHIND, OK]) == [False, False, False]
    # Ready: catching up counts as serving, however long it lasts.
    assert run([OK, OK] + [BEHIND] * 10) == [False] + [True] * 11
    # It answers, so it interrupts a run of real failures as a success would.
    assert run([OK, OK, DOWN, BEHIND, DOWN, DOWN, DOWN]) == [False] + [True] * 5 + [False]
    # Taken out by real failures, it must catch up again before it is back.
    back = run([OK, OK, DOWN, DOWN, DOWN, BEHIND, BEHIND, OK, OK])
    assert back == [False, True, True, True, False, False, False, False, True]


def test_held_back_the_pod_says_why() -> None:
    state = hysteresis.Hysteresis(1, 3)
    state, desired = hysteresis.step(state, hysteresis.starting(1), BEHIND)
    assert (desired.ready, desired.reason, desired.message) == (
        False,
        conditions.INDEX_BEHIND,
        "5000 vectors waiting to be indexed",
    )


def test_thresholds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        hysteresis.Hysteresis(0, 3)
