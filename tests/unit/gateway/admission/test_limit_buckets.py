"""The GCRA arithmetic and the in-process store: exact limits per minute, smooth refill,
all-or-nothing admission across rate, tokens, concurrency and budget, and token corrections."""

from __future__ import annotations

import pytest

from runestone_gateway.admission import budget, limitstore

PERIOD = limitstore.PERIOD_SECONDS


def test_exactly_the_limit_fits_in_a_burst() -> None:
    for limit in (1, 3, 7, 60, 600, 100_000):
        tat = None
        for _ in range(limit if limit <= 600 else 0):
            step = limitstore.take(tat, 1000.0, limit, 1)
            assert step.allowed
            tat = step.tat
        if limit <= 600:
            refused = limitstore.take(tat, 1000.0, limit, 1)
            assert not refused.allowed, limit
            assert refused.window.remaining == 0
            assert refused.retry_after == pytest.approx(PERIOD / limit)


def test_the_bucket_refills_smoothly() -> None:
    step = limitstore.take(None, 0.0, 6, 6)  # all six at once
    assert step.allowed
    assert step.window == limitstore.Window(6, 0, PERIOD)
    assert not limitstore.take(step.tat, 9.9, 6, 1).allowed
    later = limitstore.take(step.tat, 10.0, 6, 1)  # one request every ten seconds comes back
    assert later.allowed
    assert later.window.remaining == 0
    assert limitstore.take(step.tat, 30.0, 6, 1).window.remaining == 2


def test_a_cost_larger_than_the_limit_never_fits() -> None:
    step = limitstore.take(None, 0.0, 100, 101)
    assert not step.allowed
    assert step.retry_after is None
    assert step.window.remaining == 100


def test_corrections_add_debt_or_give_tokens_back() -> None:
    step = limitstore.take(None, 0.0, 60, 10)
    tat = limitstore.adjust(step.tat, 0.0, 60, 100)  # used 110 of 60 per minute
    assert tat == pytest.approx(110.0)
    assert not limitstore.take(tat, 49.0, 60, 1).allowed
    assert limitstore.take(tat, 51.0, 60, 1).allowed
    assert limitstore.adjust(step.tat, 0.0, 60, -50) == 0.0  # never below "now"


def ask(**fields: object) -> limitstore.Ask:
    return limitstore.Ask(scope="t/k", **fields)  # type: ignore[arg-type]


def test_local_store_refuses_without_taking_anything() -> None:
    store = limitstore.LocalStore()
    both = {"requests_per_minute": 10, "tokens_per_minute": 100}
    assert store.decide(ask(tokens=90, **both), 0.0).refused is None
    refused = store.decide(ask(tokens=20, **both), 0.0)
    assert refused.refused == "tokens"
    assert refused.requests == limitstore.Window(10, 9, 6.0)  # the refused one took nothing
    assert refused.retry_after == pytest.approx(6.0)  # 10 tokens refill in 6 seconds
    assert store.decide(ask(tokens=10, **both), 0.0).refused is None


def test_local_store_concurrency_leases() -> None:
    store = limitstore.LocalStore()
    assert store.decide(ask(max_concurrent=2, lease="a"), 0.0).refused is None
    assert store.decide(ask(max_concurrent=2, lease="b"), 0.0).refused is None
    refused = store.decide(ask(max_concurrent=2, lease="c"), 0.0)
    assert refused.refused == "concurrency"
    assert refused.retry_after == limitstore.CONCURRENCY_RETRY_SECONDS
    store.apply(limitstore.Settlement("t/k", lease="a"), 1.0)
    assert store.decide(ask(max_concurrent=2, lease="c"), 1.0).refused is None


def test_a_refusal_by_a_slot_or_the_budget_shows_the_rates_as_they_stand() -> None:
    store = limitstore.LocalStore()
    may = budget.Period("2026-05", 100.0)
    limited = {"requests_per_minute": 10, "tokens_per_minute": 100, "tokens": 30}
    held = store.decide(ask(max_concurrent=1, lease="a", **limited), 0.0)
    assert (held.requests, held.tokens) == (
        limitstore.Window(10, 9, 6.0),
        limitstore.Window(100, 70, 18.0),
    )
    busy = store.decide(ask(max_concurrent=1, lease="b", **limited), 0.0)
    assert busy.refused == "concurrency"
    assert (busy.requests, busy.tokens) == (held.requests, held.tokens)  # nothing taken
    store.apply(limitstore.Settlement("t/k", cost_nanos=10, period=may), 0.0)
    spent = store.decide(ask(budget_nanos=10, period=may, **limited), 0.0)
    assert spent.refused == "budget"
    assert (spent.requests, spent.tokens) == (held.requests, held.tokens)
    again = store.decide(ask(**limited), 0.0)
    assert (again.refused, again.requests, again.tokens) == (
        None,
        limitstore.Window(10, 8, 12.0),
        limitstore.Window(100, 40, 36.0),
    )


def test_local_store_budget_per_period() -> None:
    store = limitstore.LocalStore()
    may = budget.Period("2026-05", 100.0)
    june = budget.Period("2026-06", 200.0)
    assert store.decide(ask(budget_nanos=1000, period=may), 0.0).refused is None
    assert store.apply(limitstore.Settlement("t/k", cost_nanos=999, period=may), 0.0) == 999
    assert store.decide(ask(budget_nanos=1000, period=may), 0.0).refused is None
    assert store.apply(limitstore.Settlement("t/k", cost_nanos=5, period=may), 0.0) == 1004
    assert store.decide(ask(budget_nanos=1000, period=may), 0.0).refused == "budget"
    assert store.decide(ask(budget_nanos=1000, period=june), 0.0).refused is None
    assert store.apply(limitstore.Settlement("t/k", cost_nanos=1, period=june), 0.0) == 1


def test_refusal_names_the_first_refused_rate_and_waits_for_all() -> None:
    full = limitstore.take(limitstore.take(None, 0.0, 1, 1).tat, 0.0, 1, 1)
    tokens = limitstore.take(None, 0.0, 10, 11)
    assert limitstore.refusal(("requests", full), ("tokens", None)) == (
        "requests",
        full.retry_after,
    )
    assert limitstore.refusal(("requests", full), ("tokens", tokens)) == ("requests", None)
    assert limitstore.refusal(("requests", None), ("tokens", None)) == (None, None)
