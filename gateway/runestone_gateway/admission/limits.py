"""Per-key limits on the request path: admit (or refuse with 429), then settle what the request
really used. The counters live in a `limitstore.Store`; this module turns its verdicts into
OpenAI-shaped answers: `x-ratelimit-*` headers on every answer to a limited key, and on refusal
429 with `Retry-After`, or for a spent budget 429 `insufficient_quota`, as OpenAI answers an
exhausted quota.

When the store is unreachable the configured fail mode decides: `open` serves the request
unlimited, `closed` refuses it with 503. Either way it is counted and logged (at most one line
per `LOG_EVERY_SECONDS`); no store failure raises past this module."""

from __future__ import annotations

import itertools
import logging
import math
import os
import time
from typing import Any, Literal, Protocol

from runestone_gateway import errors
from runestone_gateway.admission import auth, budget, limitstore

log = logging.getLogger("runestone.gateway.limits")

LOG_EVERY_SECONDS = 10.0
Headers = tuple[tuple[bytes, bytes], ...]


class Labelled(Protocol):
    def labels(self, *values: str) -> Any: ...


class Meters(Protocol):
    """The metrics the limiter counts into (telemetry's `metrics.Metrics` has them): the
    limits sit below telemetry, which counts what requests cost."""

    @property
    def limit_rejections(self) -> Labelled: ...

    @property
    def limit_store_failures(self) -> Labelled: ...

    @property
    def budget_spent(self) -> Labelled: ...


class Limiter:
    """One per config generation; the store may outlive it (it is kept across reloads)."""

    def __init__(
        self,
        store: limitstore.Store,
        fail_mode: Literal["open", "closed"],
        gateway_metrics: Meters,
        failure_log: FailureLog,
    ) -> None:
        self.store = store
        self.fail_mode = fail_mode
        self.metrics = gateway_metrics
        self._failures = failure_log
        self._leases = _LeaseIds()

    async def admit(self, who: auth.Principal, estimated_tokens: int) -> Ticket:
        """A ticket for the request, or a GatewayError (429, or 503 when failing closed)."""
        return await self.decide(who, self._ask(who, max(estimated_tokens, 1)))

    async def admit_before_body(self, who: auth.Principal) -> Ticket:
        """Admit a request whose body is still arriving: its request rate, concurrency slot
        and budget are taken now, its tokens once the body is known (`Ticket.take_tokens`)."""
        return await self.decide(who, self._ask(who, None))

    def _ask(self, who: auth.Principal, tokens: int | None) -> limitstore.Ask:
        """Everything `who` is limited by; the token limit only when `tokens` are given."""
        limits = who.limits
        key_budget = who.budget
        return limitstore.Ask(
            scope=who.scope,
            requests_per_minute=limits.requests_per_minute,
            tokens_per_minute=limits.tokens_per_minute if tokens is not None else None,
            tokens=tokens or 0,
            max_concurrent=limits.max_concurrent_requests,
            lease=next(self._leases) if limits.max_concurrent_requests else "",
            budget_nanos=budget.usd_to_nanos(key_budget.usd) if key_budget else None,
            period=budget.period(key_budget.period, time.time()) if key_budget else None,
        )

    async def decide(self, who: auth.Principal, ask: limitstore.Ask) -> Ticket:
        """Ask the store; a ticket, or the refusal as a GatewayError."""
        try:
            verdict = await self.store.admit(ask)
        except limitstore.Unavailable as error:
            self.failed("admit", str(error))
            if self.fail_mode == "closed":
                self.metrics.limit_rejections.labels(who.id, "store_unavailable").inc()
                raise store_unavailable() from None
            return Ticket(self, who, ask, admitted=False, headers=())
        if self._failures.failing:
            self._failures.recovered()
        headers = rate_headers(verdict)
        if verdict.refused is not None:
            self.metrics.limit_rejections.labels(who.id, verdict.refused).inc()
            raise refused(who, ask, verdict, headers)
        return Ticket(self, who, ask, admitted=True, headers=headers)

    def failed(self, operation: str, detail: str) -> None:
        self.metrics.limit_store_failures.labels(operation, self.fail_mode).inc()
        self._failures.report(operation, detail, self.fail_mode)


class Ticket:
    """An admitted request; `settle` once it has finished."""

    __slots__ = ("_ask", "_limiter", "_taken", "_who", "admitted", "headers")

    def __init__(
        self,
        limiter: Limiter,
        who: auth.Principal,
        ask: limitstore.Ask,
        *,
        admitted: bool,
        headers: Headers,
    ) -> None:
        self._limiter = limiter
        self._who = who
        self._ask = ask
        self.admitted = admitted  # False: the store was down and the fail mode let it through
        self.headers = headers
        self._taken = ask.tokens if admitted and ask.tokens_per_minute else 0
        """Tokens taken from the key's bucket so far."""

    async def take_tokens(self, estimated_tokens: int) -> Headers:
        """For a ticket admitted before its body: take the prompt's estimated tokens from the
        key's tokens-per-minute bucket, or refuse (a GatewayError; settle the ticket all the
        same). Returns the headers that report the bucket."""
        tokens_per_minute = self._who.limits.tokens_per_minute
        if not tokens_per_minute:
            return ()
        ask = limitstore.Ask(
            scope=self._ask.scope,
            tokens_per_minute=tokens_per_minute,
            tokens=max(estimated_tokens, 1),
        )
        taken = await self._limiter.decide(self._who, ask)
        self._taken = taken._taken
        return taken.headers

    async def settle(self, used_tokens: int | None, cost_nanos: int) -> None:
        """Correct the token estimate with `used_tokens` (None: unknown, keep the estimate),
        give back the concurrency slot, and add the cost to the budget."""
        ask = self._ask
        tokens_per_minute = self._who.limits.tokens_per_minute
        delta = 0 if used_tokens is None else used_tokens - self._taken
        settlement = limitstore.Settlement(
            scope=ask.scope,
            tokens_per_minute=tokens_per_minute,
            token_delta=delta if tokens_per_minute else 0,
            lease=ask.lease if self.admitted and ask.max_concurrent else None,
            cost_nanos=cost_nanos,
            period=ask.period,
        )
        if not (settlement.token_delta or settlement.lease or settlement.period):
            return
        limiter = self._limiter
        try:
            spent = await limiter.store.settle(settlement)
        except limitstore.Unavailable as error:
            limiter.failed("settle", str(error))
            return
        if spent is not None:
            limiter.metrics.budget_spent.labels(self._who.id).set(budget.nanos_to_usd(spent))


class FailureLog:
    """Logs store failures at most once per interval, saying how many it left out."""

    def __init__(self, every: float = LOG_EVERY_SECONDS) -> None:
        self._every = every
        self._last = -math.inf
        self._left_out = 0
        self.failing = False

    def recovered(self) -> None:
        self.failing = False
        log.warning("rate-limit store is reachable again; limits apply again")

    def report(self, operation: str, detail: str, fail_mode: str) -> None:
        self.failing = True
        now = time.monotonic()
        if now - self._last < self._every:
            self._left_out += 1
            return
        more = f" ({self._left_out} more failures since the last report)" if self._left_out else ""
        self._last, self._left_out = now, 0
        action = (
            "requests are served without limits (failMode open)"
            if fail_mode == "open"
            else "requests of limited keys are refused with 503 (failMode closed)"
        )
        log.error("rate-limit store failed during %s: %s; %s%s", operation, detail, action, more)


_HEADER_NAMES = {
    dimension: (
        f"x-ratelimit-limit-{dimension}".encode(),
        f"x-ratelimit-remaining-{dimension}".encode(),
        f"x-ratelimit-reset-{dimension}".encode(),
    )
    for dimension in ("requests", "tokens")
}


def rate_headers(verdict: limitstore.Verdict) -> Headers:
    requests, tokens = verdict.requests, verdict.tokens
    if requests is None:
        return () if tokens is None else _window_headers("tokens", tokens)
    if tokens is None:
        return _window_headers("requests", requests)
    return _window_headers("requests", requests) + _window_headers("tokens", tokens)


def _window_headers(dimension: str, window: limitstore.Window) -> Headers:
    limit, remaining, reset = _HEADER_NAMES[dimension]
    return (
        (limit, b"%d" % window.limit),
        (remaining, b"%d" % window.remaining),
        (reset, duration(window.reset_seconds).encode()),
    )


def duration(seconds: float) -> str:
    """A reset time as OpenAI writes it: "20ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{max(math.ceil(seconds * 1000), 0)}ms"
    if seconds < 60:
        return f"{_seconds(seconds)}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{_seconds(rest)}s"


def _seconds(seconds: float) -> str:
    text = f"{math.ceil(seconds * 1000) / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def refused(
    who: auth.Principal, ask: limitstore.Ask, verdict: limitstore.Verdict, headers: Headers
) -> errors.GatewayError:
    reason = verdict.refused
    if reason == "budget":
        assert who.budget is not None
        assert ask.period is not None
        left = ask.period.seconds_left(time.time())
        return errors.GatewayError(
            429,
            f"The API key {who.id!r} has used its {who.budget.period} budget of "
            f"${who.budget.usd}. Ask for a larger budget or wait for the next period.",
            type=errors.INSUFFICIENT_QUOTA,
            code="insufficient_quota",
            headers=(*headers, *_retry(left), (b"x-should-retry", b"false")),
        )
    if reason == "concurrency":
        return errors.GatewayError(
            429,
            f"The API key {who.id!r} already has {ask.max_concurrent} requests in flight, its "
            "limit. Try again when one has finished.",
            type="requests",
            code="concurrency_limit_exceeded",
            headers=(*headers, *_retry(verdict.retry_after)),
        )
    if reason == "tokens":
        what = f"tokens per minute (TPM): Limit {ask.tokens_per_minute}, Requested {ask.tokens}"
    else:
        what = f"requests per minute (RPM): Limit {ask.requests_per_minute}"
    if verdict.retry_after is None:
        return errors.GatewayError(
            429,
            f"Request too large for API key {who.id!r} on {what}. Send a smaller request.",
            type="tokens",
            code="rate_limit_exceeded",
            headers=(*headers, (b"x-should-retry", b"false")),
        )
    return errors.GatewayError(
        429,
        f"Rate limit reached for API key {who.id!r} on {what}. "
        f"Please try again in {duration(verdict.retry_after)}.",
        type=reason or "requests",
        code="rate_limit_exceeded",
        headers=(*headers, *_retry(verdict.retry_after)),
    )


def _retry(seconds: float | None) -> Headers:
    if seconds is None:
        return ()
    return (
        (b"retry-after", str(max(math.ceil(seconds), 1)).encode()),
        (b"retry-after-ms", str(max(math.ceil(seconds * 1000), 1)).encode()),
    )


def store_unavailable() -> errors.GatewayError:
    return errors.GatewayError(
        503,
        "The rate-limit store is unavailable, and this gateway refuses limited keys until it "
        "is back (failMode closed).",
        type=errors.SERVER,
        code="rate_limit_store_unavailable",
        headers=_retry(1.0),
    )


class _LeaseIds:
    """Lease names unique across processes and replicas: a random process part and a count."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex() + ":"
        self._count = itertools.count()

    def __next__(self) -> str:
        return self._prefix + str(next(self._count))
