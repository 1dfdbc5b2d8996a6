"""Failover across the tiers of a route: one attempt per tier, in priority order, until one
succeeds. Retryable failures count against the target's breaker; the client's own mistakes
(the upstream's 400s, untranslatable requests) end the search at once. Every attempt's outcome
and latency also go into its target's recent window (`window`), for the model health view."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from runestone_gateway import errors
from runestone_gateway.failover import breaker, routing
from runestone_gateway.providers import base

T = TypeVar("T")


@dataclass(slots=True)  # one per request: not frozen, which would triple its cost
class Success(Generic[T]):
    target: routing.Target
    result: T
    permit: breaker.Permit
    upstream_seconds: float  # time spent waiting for this (successful) attempt


async def first_success(
    route: routing.Route,
    attempt: Callable[[routing.Target], Awaitable[T]],
    *,
    rng: random.Random,
    attempts: list[tuple[routing.Target, str]],
) -> Success[T]:
    """The first attempt that succeeds. Each attempt's outcome is appended to `attempts` for
    the metrics, which are counted after the answer has gone out.

    Each attempt is noted in its target's window. A successful one stays in flight there until
    its request has ended (`telemetry.accounting` counts that), so a stream is in flight for as
    long as it is relayed: whoever calls this must put the returned target on the request's
    `Exchange`."""
    last_error: base.UpstreamError | None = None
    for tier in route.tiers:
        target = routing.pick(tier, route.strategy, rng)
        permit = target.breaker.acquire() if target is not None else None
        if target is None or permit is None:
            continue
        recent = target.window
        recent.begin()
        started = time.perf_counter()
        try:
            result = await attempt(target)
        except base.UpstreamError as error:
            attempts.append((target, error.kind.value))
            if not error.retryable:
                target.breaker.success(permit)  # the upstream is alive; the request was bad
                recent.refused(time.perf_counter())
                raise rejected(error) from None
            target.breaker.failure(permit)
            recent.failed(time.perf_counter())
            last_error = error
            continue
        except BaseException:
            target.breaker.release(permit)
            recent.abandoned()
            raise
        ended = time.perf_counter()
        elapsed = ended - started
        target.breaker.success(permit)
        target.latency.observe(elapsed)
        recent.succeeded(ended, elapsed)
        attempts.append((target, "success"))
        return Success(target, result, permit, elapsed)
    raise exhausted(route.model, last_error)


def rejected(error: base.UpstreamError) -> errors.GatewayError:
    """The upstream's refusal of the request, passed on with the upstream's status."""
    detail = (error.envelope or {}).get("error") or {}
    return errors.GatewayError(
        error.status or 400,
        str(detail.get("message") or "The upstream refused the request."),
        type=str(detail.get("type") or errors.INVALID_REQUEST),
        code=detail.get("code"),
        param=detail.get("param"),
    )


def _said(error: base.UpstreamError) -> str:
    """What the failure was, for a client: never its detail (it may name internal addresses)."""
    kind = error.kind
    if kind is base.FailureKind.STATUS and error.status:
        return f"answered {error.status}"
    return {
        base.FailureKind.CONNECT: "could not be reached",
        base.FailureKind.TIMEOUT: "did not answer in time",
        base.FailureKind.RATE_LIMITED: "answered 429 (rate limited)",
        base.FailureKind.PROTOCOL: "answered outside its wire format",
    }.get(kind, "failed")


def exhausted(model: str, last_error: base.UpstreamError | None) -> errors.GatewayError:
    """Every tier failed or had nothing to call: 503, 504 or 502 by the last failure."""
    if last_error is None:
        return errors.GatewayError(
            503,
            f"No provider for model {model!r} is available now (circuits open or unhealthy).",
            type=errors.UPSTREAM,
            code="no_available_provider",
        )
    kind = last_error.kind
    message = f"Every provider for model {model!r} failed; the last one {_said(last_error)}."
    if kind is base.FailureKind.TIMEOUT:
        return errors.GatewayError(504, message, type=errors.UPSTREAM, code="upstream_timeout")
    if kind is base.FailureKind.RATE_LIMITED:
        return errors.GatewayError(503, message, type=errors.UPSTREAM, code="upstream_rate_limited")
    return errors.GatewayError(502, message, type=errors.UPSTREAM, code="upstream_failed")
