"""The circuit breaker's state machine, on a fake clock. Reading its state never moves it; the
cool-down's end turns it half-open where a permit is sought (or `half_open_if_due` is called)."""

from __future__ import annotations

from runestone_gateway import config
from runestone_gateway.failover import breaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    threshold: int = 3, open_seconds: float = 10, probes: int = 1
) -> tuple[breaker.CircuitBreaker, Clock, list[breaker.State]]:
    clock = Clock()
    changes: list[breaker.State] = []
    settings = config.CircuitBreaker(
        failure_threshold=threshold, open_seconds=open_seconds, half_open_requests=probes
    )
    return breaker.CircuitBreaker(settings, clock=clock, on_change=changes.append), clock, changes


def state(cb: breaker.CircuitBreaker) -> breaker.State:
    """Read anew each time (mypy would otherwise assume an attribute cannot change)."""
    return cb.state


def fail(cb: breaker.CircuitBreaker, times: int) -> None:
    for _ in range(times):
        permit = cb.acquire()
        assert permit is not None
        cb.failure(permit)


def test_opens_after_consecutive_failures_only() -> None:
    cb, _, changes = make(threshold=3)
    fail(cb, 2)
    permit = cb.acquire()
    assert permit is not None
    cb.success(permit)  # a success resets the count
    fail(cb, 2)
    assert state(cb) is breaker.State.CLOSED
    fail(cb, 1)
    assert state(cb) is breaker.State.OPEN
    assert changes == [breaker.State.OPEN]
    assert cb.acquire() is None
    assert not cb.available()


def test_half_opens_after_cool_down_and_closes_on_success() -> None:
    cb, clock, changes = make(threshold=1, open_seconds=10)
    fail(cb, 1)
    clock.now += 9.9
    assert cb.acquire() is None, "no call while it cools down"
    assert state(cb) is breaker.State.OPEN
    clock.now += 0.1
    assert state(cb) is breaker.State.OPEN, "the cool-down is over, but reading moves nothing"
    probe = cb.acquire()  # seeking a permit turns it half-open
    assert state(cb) is breaker.State.HALF_OPEN
    assert probe is not None
    assert probe.probe
    assert cb.acquire() is None, "only halfOpenRequests probes at a time"
    cb.success(probe)
    assert state(cb) is breaker.State.CLOSED
    assert changes == [breaker.State.OPEN, breaker.State.HALF_OPEN, breaker.State.CLOSED]


def test_failed_probe_reopens_for_a_full_cool_down() -> None:
    cb, clock, _ = make(threshold=1, open_seconds=10)
    fail(cb, 1)
    clock.now += 10
    probe = cb.acquire()
    assert probe is not None
    cb.failure(probe)
    assert state(cb) is breaker.State.OPEN
    clock.now += 9
    assert cb.half_open_if_due() is breaker.State.OPEN
    assert cb.acquire() is None
    clock.now += 1
    assert cb.half_open_if_due() is breaker.State.HALF_OPEN


def test_every_probe_must_succeed_to_close() -> None:
    cb, clock, _ = make(threshold=1, open_seconds=1, probes=2)
    fail(cb, 1)
    clock.now += 1
    first, second = cb.acquire(), cb.acquire()
    assert first is not None
    assert second is not None
    assert cb.acquire() is None
    cb.success(first)
    assert state(cb) is breaker.State.HALF_OPEN
    cb.success(second)
    assert state(cb) is breaker.State.CLOSED


def test_released_probe_frees_its_slot_without_a_verdict() -> None:
    cb, clock, _ = make(threshold=1, open_seconds=1)
    fail(cb, 1)
    clock.now += 1
    probe = cb.acquire()
    assert probe is not None
    cb.release(probe)
    assert state(cb) is breaker.State.HALF_OPEN
    assert cb.acquire() is not None


def test_verdicts_from_before_a_state_change_are_ignored() -> None:
    cb, clock, _ = make(threshold=2, open_seconds=1)
    slow = cb.acquire()  # started while closed, finishes much later
    assert slow is not None
    fail(cb, 2)
    clock.now += 1
    assert cb.half_open_if_due() is breaker.State.HALF_OPEN
    cb.failure(slow)
    assert state(cb) is breaker.State.HALF_OPEN, "a stale failure does not reopen"
    cb.success(slow)
    assert state(cb) is breaker.State.HALF_OPEN, "nor does a stale success close"


def test_reading_the_state_changes_nothing() -> None:
    cb, clock, changes = make(threshold=1, open_seconds=10)
    fail(cb, 1)
    clock.now += 10  # the cool-down is over
    assert state(cb) is breaker.State.OPEN
    assert state(cb) is breaker.State.OPEN
    assert not cb.cooling_down()
    assert changes == [breaker.State.OPEN], "no transition, so no gauge update either"
    assert cb.half_open_if_due() is breaker.State.HALF_OPEN
    assert state(cb) is breaker.State.HALF_OPEN
    assert changes == [breaker.State.OPEN, breaker.State.HALF_OPEN]


def test_cooling_down_only_while_open_and_before_the_cool_down_ends() -> None:
    cb, clock, _ = make(threshold=1, open_seconds=10)
    assert not cb.cooling_down()
    fail(cb, 1)
    assert cb.cooling_down()
    clock.now += 9.9
    assert cb.cooling_down()
    clock.now += 0.1
    assert not cb.cooling_down(), "readiness counts it servable: a request may probe it"
    assert state(cb) is breaker.State.OPEN
    assert cb.available(), "a permit may be had"
    assert state(cb) is breaker.State.HALF_OPEN
