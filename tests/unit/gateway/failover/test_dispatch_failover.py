"""Failover across tiers with fake providers: order, one attempt per tier, breaker bookkeeping,
and the status a client gets when every tier fails."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from runestone_gateway import config, errors
from runestone_gateway.failover import breaker, dispatch, routing, window
from runestone_gateway.providers import base


class Scripted(base.Provider):
    """Fails with the given error, or answers with its own name."""

    def __init__(self, name: str, error: base.UpstreamError | None = None) -> None:
        super().__init__(config.Provider(name=name, type="mock", models=[config.Model(name="m")]))
        self.error = error
        self.calls = 0

    async def answer(self, call: base.Call) -> base.Answer:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return base.Answer(self.name.encode(), None)

    async def stream(self, call: base.Call) -> base.EventStream:
        raise NotImplementedError

    async def probe(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def failure(kind: base.FailureKind, status: int | None = None) -> base.UpstreamError:
    return base.UpstreamError(kind, f"fake {kind.value}", status=status)


def route(*tiers: list[Scripted], threshold: int = 5) -> routing.Route:
    targets = [
        routing.Target(
            pool="p",
            provider=provider,
            model=provider.spec.models[0],
            priority=priority,
            weight=100,
            price=0.0,
            breaker=breaker.CircuitBreaker(config.CircuitBreaker(failure_threshold=threshold)),
            latency=routing.Ewma(),
            health=routing.Health(),
            window=window.Window(),
        )
        for priority, tier in enumerate(tiers)
        for provider in tier
    ]
    return routing.build_route("m", "p", "weighted", targets)


async def run(
    r: routing.Route, attempts: list[tuple[routing.Target, str]] | None = None
) -> dispatch.Success[base.Answer]:
    def attempt(target: routing.Target) -> object:
        return target.provider.answer(base.Call("chat", {}, target.upstream_model))

    tried = [] if attempts is None else attempts
    return await dispatch.first_success(r, attempt, rng=random.Random(1), attempts=tried)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kind",
    [
        base.FailureKind.CONNECT,
        base.FailureKind.TIMEOUT,
        base.FailureKind.RATE_LIMITED,
        base.FailureKind.STATUS,
        base.FailureKind.PROTOCOL,
    ],
)
async def test_retryable_failures_fall_through_to_the_next_tier(kind: base.FailureKind) -> None:
    first, second = Scripted("first", failure(kind)), Scripted("second")
    attempts: list[tuple[routing.Target, str]] = []
    success = await run(route([first], [second]), attempts)
    assert success.result.body == b"second"
    assert (first.calls, second.calls) == (1, 1)
    assert success.target.latency.value is not None
    outcomes = [(target.provider_name, outcome) for target, outcome in attempts]
    assert outcomes == [("first", kind.value), ("second", "success")]


async def test_one_attempt_per_tier() -> None:
    a, b = (
        Scripted("a", failure(base.FailureKind.STATUS)),
        Scripted("b", failure(base.FailureKind.STATUS)),
    )
    c = Scripted("c")
    success = await run(route([a, b], [c]))
    assert success.result.body == b"c"
    assert a.calls + b.calls == 1


async def test_a_rejected_request_is_not_retried() -> None:
    envelope = errors.envelope("bad field", type="invalid_request_error", param="temperature")
    rejected = base.UpstreamError(base.FailureKind.REJECTED, "x", status=422, envelope=envelope)
    first, second = Scripted("first", rejected), Scripted("second")
    r = route([first], [second])
    with pytest.raises(errors.GatewayError) as raised:
        await run(r)
    assert raised.value.status == 422
    assert raised.value.message == "bad field"
    assert raised.value.param == "temperature"
    assert second.calls == 0
    assert r.tiers[0][0].breaker.state is breaker.State.CLOSED


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (base.FailureKind.TIMEOUT, 504, "upstream_timeout"),
        (base.FailureKind.CONNECT, 502, "upstream_failed"),
        (base.FailureKind.STATUS, 502, "upstream_failed"),
        (base.FailureKind.RATE_LIMITED, 503, "upstream_rate_limited"),
    ],
)
async def test_status_when_every_tier_fails(kind: base.FailureKind, status: int, code: str) -> None:
    r = route([Scripted("a", failure(base.FailureKind.CONNECT))], [Scripted("b", failure(kind))])
    with pytest.raises(errors.GatewayError) as raised:
        await run(r)
    assert (raised.value.status, raised.value.code) == (status, code)


async def test_failures_open_the_breaker_and_open_tiers_are_skipped() -> None:
    flaky, backup = Scripted("flaky", failure(base.FailureKind.STATUS)), Scripted("backup")
    r = route([flaky], [backup], threshold=2)
    for _ in range(5):
        await run(r)
    assert flaky.calls == 2
    assert backup.calls == 5


async def test_nothing_available_is_503() -> None:
    only = Scripted("only", failure(base.FailureKind.STATUS))
    r = route([only], threshold=1)
    with pytest.raises(errors.GatewayError):
        await run(r)
    with pytest.raises(errors.GatewayError) as raised:
        await run(r)
    assert (raised.value.status, raised.value.code) == (503, "no_available_provider")
    assert only.calls == 1


def recent(target: routing.Target) -> window.Summary:
    return target.window.summary(time.perf_counter())


async def test_each_attempt_is_noted_in_its_targets_window() -> None:
    flaky, backup = Scripted("flaky", failure(base.FailureKind.STATUS)), Scripted("backup")
    r = route([flaky], [backup])
    success = await run(r)
    flaky_window, backup_window = recent(r.tiers[0][0]), recent(r.tiers[1][0])
    assert (flaky_window.requests, flaky_window.failures, flaky_window.inflight) == (1, 1, 0)
    assert sum(flaky_window.histogram) == 0, "a failure is no latency sample"
    # The success stays in flight until its request has ended, which the ledger reports.
    assert (backup_window.requests, backup_window.failures, backup_window.inflight) == (1, 0, 1)
    assert sum(backup_window.histogram) == 1
    success.target.window.ended(time.perf_counter(), broken=False)
    assert recent(success.target).inflight == 0


async def test_a_refused_request_is_answered_not_failed() -> None:
    rejected = base.UpstreamError(base.FailureKind.REJECTED, "x", status=400)
    r = route([Scripted("only", rejected)])
    with pytest.raises(errors.GatewayError):
        await run(r)
    summary = recent(r.tiers[0][0])
    assert (summary.requests, summary.failures, summary.inflight) == (1, 0, 0)
    assert summary.success_rate == 1.0


async def test_an_attempt_the_client_abandons_leaves_no_outcome() -> None:
    class Hanging(Scripted):
        async def answer(self, call: base.Call) -> base.Answer:
            await asyncio.Event().wait()
            raise AssertionError("never answers")

    r = route([Hanging("slow")])
    task = asyncio.create_task(run(r))
    await asyncio.sleep(0.01)
    assert recent(r.tiers[0][0]).inflight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    summary = recent(r.tiers[0][0])
    assert (summary.requests, summary.inflight) == (0, 0)


def test_the_exhausted_error_says_what_the_last_failure_was_without_its_detail() -> None:
    answered = base.UpstreamError(base.FailureKind.STATUS, "http://10.0.0.9 said no", status=503)
    error = dispatch.exhausted("m", answered)
    assert (error.status, error.code) == (502, "upstream_failed")
    assert error.message == "Every provider for model 'm' failed; the last one answered 503."
    late = dispatch.exhausted("m", base.UpstreamError(base.FailureKind.TIMEOUT, "10.0.0.9"))
    assert late.message.endswith("the last one did not answer in time.")
    assert "10.0.0.9" not in late.message
