"""Where per-key counters live, and the arithmetic every store shares.

Rates (requests and tokens per minute) are GCRA buckets, the token bucket written as one
timestamp per key: the "theoretical arrival time" (TAT) after which the bucket would be full
again. A key may spend its whole minute's allowance at once, then earns it back smoothly; there
is no window edge at which twice the limit gets through. Each check and update of all of a key's
counters (rate, tokens, concurrent-request leases, budget) is one atomic step: either every
counter takes the request or none does.

`LocalStore` keeps the counters in this process. That is exact for one process, but every
gateway process (each `--workers` process, each replica) then counts on its own, so N processes
allow N times each limit; `redisstore.RedisStore` shares one set of counters among all of them.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from runestone_gateway.admission import budget

PERIOD_SECONDS = 60.0
"""Every rate limit is per minute."""
TOLERANCE = 1e-6
"""Seconds (or requests) of floating-point slack, so that exactly `limit` fits in a minute."""
CONCURRENCY_RETRY_SECONDS = 1.0
"""What `Retry-After` says for a key at its concurrency limit (no one knows when a slot frees)."""


# The records below are made for every request of a limited key: slots, not frozen (a frozen
# dataclass sets each field through object.__setattr__, five times the cost). Nothing changes
# them once made.


@dataclass(slots=True)
class Window:
    """One rate limit as the `x-ratelimit-*` headers show it."""

    limit: int
    remaining: int
    reset_seconds: float
    """Until the bucket is full again (OpenAI: until the limit "resets to its initial state")."""


@dataclass(slots=True)
class Ask:
    """A request asking to be admitted for one key. Unset limits are not checked."""

    scope: str
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    tokens: int = 0
    """The estimated prompt tokens, taken from the tokens-per-minute bucket up front."""
    max_concurrent: int | None = None
    lease: str = ""
    """Names this request's concurrency slot until it is given back."""
    budget_nanos: int | None = None
    period: budget.Period | None = None


@dataclass(slots=True)
class Verdict:
    refused: str | None = None
    """None when admitted, else what refused it: budget, concurrency, requests or tokens."""
    retry_after: float | None = None
    """When refused by a rate: seconds until the request would fit; None if it never can."""
    requests: Window | None = None
    tokens: Window | None = None


@dataclass(slots=True)
class Settlement:
    """What a finished request gives back or adds."""

    scope: str
    tokens_per_minute: int | None = None
    token_delta: int = 0
    """Real tokens minus the estimate taken at admission (negative gives tokens back)."""
    lease: str | None = None
    """The concurrency slot to give back."""
    cost_nanos: int = 0
    period: budget.Period | None = None
    """Add the cost to this budget period; None for keys without a budget."""


class Unavailable(Exception):
    """The store cannot be reached now. The message is safe to log."""


class Store(abc.ABC):
    @abc.abstractmethod
    async def admit(self, ask: Ask) -> Verdict:
        """Admit the request and take its share of every counter, or refuse and take nothing.
        Raises Unavailable."""

    @abc.abstractmethod
    async def settle(self, settlement: Settlement) -> int | None:
        """Apply a finished request; returns the budget period's spending (nano-dollars) when
        the settlement adds to one. Raises Unavailable."""

    @abc.abstractmethod
    async def close(self) -> None: ...


@dataclass(slots=True)
class Step:
    """One GCRA decision: the TAT if it is taken, and the headers' view of the bucket."""

    allowed: bool
    tat: float
    window: Window
    """After taking it when allowed; as it stands when refused."""
    retry_after: float | None
    limit: int
    held: float
    """Seconds of the bucket in use before the request (its TAT then, minus now)."""

    def unchanged(self) -> Window:
        """The bucket as it stands, for answers where another limit refused the request
        (worked out only then: an admitted request's answer shows `window`)."""
        if not self.allowed:
            return self.window
        return _window(self.held, PERIOD_SECONDS / self.limit, self.limit)


def take(tat: float | None, now: float, limit: int, cost: int) -> Step:
    """Take `cost` units from a bucket of `limit` per minute whose TAT is `tat`."""
    interval = PERIOD_SECONDS / limit
    base = now if tat is None or tat < now else tat
    after = base + cost * interval
    if after - now <= PERIOD_SECONDS + TOLERANCE:
        return Step(True, after, _window(after - now, interval, limit), None, limit, base - now)
    fits = cost * interval <= PERIOD_SECONDS + TOLERANCE
    retry = after - now - PERIOD_SECONDS if fits else None
    return Step(False, base, _window(base - now, interval, limit), retry, limit, base - now)


def adjust(tat: float | None, now: float, limit: int, delta: int) -> float:
    """The TAT after `delta` more units (fewer when negative) than were taken."""
    base = now if tat is None or tat < now else tat
    return max(base + delta * PERIOD_SECONDS / limit, now)


def _window(used_seconds: float, interval: float, limit: int) -> Window:
    left = math.floor((PERIOD_SECONDS - used_seconds) / interval + TOLERANCE)
    return Window(limit, min(max(left, 0), limit), max(used_seconds, 0.0))


def refusal(*steps: tuple[str, Step | None]) -> tuple[str | None, float | None]:
    """The first refused rate by name, and how long until all of them fit (None: never)."""
    refused = [(name, step) for name, step in steps if step is not None and not step.allowed]
    if not refused:
        return None, None
    waits = [step.retry_after for _, step in refused]
    retry = None if any(wait is None for wait in waits) else max(w for w in waits if w is not None)
    return refused[0][0], retry


class LocalStore(Store):
    """Counters in this process only (see the module's note on several processes)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._requests: dict[str, float] = {}
        self._tokens: dict[str, float] = {}
        self._leases: dict[str, set[str]] = {}
        self._spent: dict[str, tuple[str, int]] = {}  # scope -> (period name, nano-dollars)

    async def admit(self, ask: Ask) -> Verdict:
        return self.decide(ask, self._clock())

    async def settle(self, settlement: Settlement) -> int | None:
        return self.apply(settlement, self._clock())

    async def close(self) -> None:
        return None

    def decide(self, ask: Ask, now: float) -> Verdict:
        scope = ask.scope
        rate = (
            take(self._requests.get(scope), now, ask.requests_per_minute, 1)
            if ask.requests_per_minute
            else None
        )
        tokens = (
            take(self._tokens.get(scope), now, ask.tokens_per_minute, ask.tokens)
            if ask.tokens_per_minute
            else None
        )
        budget_nanos, period = ask.budget_nanos, ask.period
        if budget_nanos is not None and period and self._spent_in(scope, period) >= budget_nanos:
            return _refused("budget", None, rate, tokens)
        held = self._leases.get(scope)
        if ask.max_concurrent is not None and held and len(held) >= ask.max_concurrent:
            return _refused("concurrency", CONCURRENCY_RETRY_SECONDS, rate, tokens)
        if (rate is not None and not rate.allowed) or (tokens is not None and not tokens.allowed):
            return _refused(*refusal(("requests", rate), ("tokens", tokens)), rate, tokens)
        if rate is not None:
            self._requests[scope] = rate.tat
        if tokens is not None:
            self._tokens[scope] = tokens.tat
        if ask.max_concurrent is not None:
            self._leases.setdefault(scope, set()).add(ask.lease)
        return Verdict(None, None, rate.window if rate else None, tokens.window if tokens else None)

    def apply(self, settlement: Settlement, now: float) -> int | None:
        scope = settlement.scope
        if settlement.tokens_per_minute and settlement.token_delta:
            self._tokens[scope] = adjust(
                self._tokens.get(scope), now, settlement.tokens_per_minute, settlement.token_delta
            )
        if settlement.lease is not None:
            held = self._leases.get(scope)
            if held is not None:
                held.discard(settlement.lease)
                if not held:
                    del self._leases[scope]
        if settlement.period is None:
            return None
        spent = self._spent_in(scope, settlement.period) + settlement.cost_nanos
        self._spent[scope] = (settlement.period.name, spent)
        return spent

    def _spent_in(self, scope: str, period: budget.Period) -> int:
        name, spent = self._spent.get(scope, (period.name, 0))
        return spent if name == period.name else 0


def _refused(
    reason: str | None, retry: float | None, rate: Step | None, tokens: Step | None
) -> Verdict:
    """A refusal, with each rate's bucket as it stands (nothing was taken)."""
    return Verdict(
        reason,
        retry,
        rate.unchanged() if rate else None,
        tokens.unchanged() if tokens else None,
    )
