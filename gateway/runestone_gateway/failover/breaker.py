"""A circuit breaker for one (provider, model): closed, open, half-open.

Closed counts consecutive failures; at the threshold it opens. Open refuses calls until its
cool-down has passed, then turns half-open and admits a bounded number of probe calls: all of them
succeeding closes it, any failing opens it again. A permit remembers the state's epoch, so the
verdict of a call that began before a state change cannot move the new state.

Reading `state` changes nothing. The one move the clock makes, open to half-open, happens in
`half_open_if_due`, which runs where a permit is sought (`available`, `acquire`) and where the
health checks look; until then an open breaker whose cool-down has passed still reads OPEN.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

from runestone_gateway import config


class State(enum.IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True, slots=True)
class Permit:
    epoch: int
    probe: bool


class CircuitBreaker:
    def __init__(
        self,
        settings: config.CircuitBreaker,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[State], None] | None = None,
    ) -> None:
        self._threshold = settings.failure_threshold
        self._open_seconds = settings.open_seconds
        self._probes_allowed = settings.half_open_requests
        self._clock = clock
        self._on_change = on_change
        self._state = State.CLOSED
        self._epoch = 0
        self._failures = 0
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_successes = 0
        self._closed_permit = Permit(self._epoch, probe=False)
        """The permit of every call while closed, made once per epoch, not once per call."""

    @property
    def state(self) -> State:
        """The state as it stands; reading it changes nothing."""
        return self._state

    def half_open_if_due(self) -> State:
        """Turn an open breaker half-open once its cool-down has passed; the state after."""
        if self._state is State.OPEN and self._clock() - self._opened_at >= self._open_seconds:
            self._enter(State.HALF_OPEN)
        return self._state

    def cooling_down(self) -> bool:
        """Open, with its cool-down still running: no call would get a permit now. Reading it
        changes nothing (readiness asks this)."""
        return self._state is State.OPEN and self._clock() - self._opened_at < self._open_seconds

    def cool_down_left(self) -> float:
        """Seconds until an open breaker may turn half-open (0 when not cooling down)."""
        if self._state is not State.OPEN:
            return 0.0
        return max(self._open_seconds - (self._clock() - self._opened_at), 0.0)

    @property
    def consecutive_failures(self) -> int:
        """Failures counted toward opening a closed breaker."""
        return self._failures

    def available(self) -> bool:
        """Whether `acquire` would give a permit now (an open breaker whose cool-down has
        passed turns half-open here)."""
        state = self._state
        if state is State.CLOSED:
            return True
        if state is State.OPEN:
            state = self.half_open_if_due()
        return state is State.HALF_OPEN and self._probes_in_flight < self._probes_allowed

    def acquire(self) -> Permit | None:
        if self._state is State.CLOSED:
            return self._closed_permit
        if not self.available():
            return None
        probe = self._state is State.HALF_OPEN
        if probe:
            self._probes_in_flight += 1
        return Permit(self._epoch, probe)

    def success(self, permit: Permit) -> None:
        if permit.epoch != self._epoch:
            return
        if self._state is State.CLOSED:
            self._failures = 0
        elif permit.probe:
            self._probes_in_flight -= 1
            self._probe_successes += 1
            if self._probe_successes >= self._probes_allowed:
                self._enter(State.CLOSED)

    def failure(self, permit: Permit) -> None:
        if permit.epoch != self._epoch:
            return
        if self._state is State.CLOSED:
            self._failures += 1
            if self._failures >= self._threshold:
                self._enter(State.OPEN)
        elif permit.probe:
            self._enter(State.OPEN)

    def release(self, permit: Permit) -> None:
        """The call ended without a verdict (the client went away, or it was the client's
        own fault): free a probe slot and judge nothing."""
        if permit.epoch == self._epoch and permit.probe:
            self._probes_in_flight -= 1

    def _enter(self, state: State) -> None:
        self._state = state
        self._epoch += 1
        self._closed_permit = Permit(self._epoch, probe=False)
        self._failures = 0
        self._probes_in_flight = 0
        self._probe_successes = 0
        if state is State.OPEN:
            self._opened_at = self._clock()
        if self._on_change is not None:
            self._on_change(state)
