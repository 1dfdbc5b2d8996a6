"""What limited keys are told: OpenAI-shaped x-ratelimit-* headers and reset times, 429 bodies
for each refused limit, budget periods and costs in nano-dollars, prompt-token estimates, and
request ids."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import orjson
import pytest

from runestone_gateway import config
from runestone_gateway.admission import auth, budget, limits, limitstore
from runestone_gateway.api import tokens, validate
from runestone_gateway.providers import base
from runestone_gateway.telemetry import accesslog


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0ms"), (0.0201, "21ms"), (1.0, "1s"), (1.5, "1.5s"), (59.9994, "60s"), (360, "6m0s")],
)
def test_reset_durations_read_like_openai(seconds: float, text: str) -> None:
    assert limits.duration(seconds) == text


def test_rate_headers_only_for_configured_limits() -> None:
    verdict = limitstore.Verdict(requests=limitstore.Window(10, 9, 6.0))
    assert limits.rate_headers(verdict) == (
        (b"x-ratelimit-limit-requests", b"10"),
        (b"x-ratelimit-remaining-requests", b"9"),
        (b"x-ratelimit-reset-requests", b"6s"),
    )
    assert limits.rate_headers(limitstore.Verdict()) == ()


def who(**fields: Any) -> auth.Principal:
    entry = config.KeyTableEntry.model_validate({"id": "team", "sha256": "0" * 64, **fields})
    return auth.principal(entry)


def body(error: Any) -> dict[str, Any]:
    return dict(orjson.loads(error.body())["error"])


def test_refusals_by_rate() -> None:
    ask = limitstore.Ask("s", requests_per_minute=10, tokens_per_minute=100, tokens=20)
    rate = limits.refused(who(), ask, limitstore.Verdict("requests", 2.5), ())
    assert (rate.status, body(rate)["type"], body(rate)["code"]) == (
        429,
        "requests",
        "rate_limit_exceeded",
    )
    assert dict(rate.headers)[b"retry-after"] == b"3"
    assert dict(rate.headers)[b"retry-after-ms"] == b"2500"
    assert "RPM" in rate.message
    tokens_ = limits.refused(who(), ask, limitstore.Verdict("tokens", 0.2), ())
    assert body(tokens_)["type"] == "tokens"
    assert dict(tokens_.headers)[b"retry-after"] == b"1"
    never = limits.refused(who(), ask, limitstore.Verdict("tokens", None), ())
    assert "Request too large" in never.message
    assert dict(never.headers) == {b"x-should-retry": b"false"}


def test_refusals_by_concurrency_and_budget() -> None:
    busy = limits.refused(
        who(), limitstore.Ask("s", max_concurrent=3), limitstore.Verdict("concurrency", 1.0), ()
    )
    assert (busy.status, busy.code) == (429, "concurrency_limit_exceeded")
    key = who(budget={"usd": "5", "period": "total"})
    ask = limitstore.Ask(
        "s", budget_nanos=5 * budget.NANOS_PER_USD, period=budget.period("total", 0)
    )
    spent = limits.refused(key, ask, limitstore.Verdict("budget"), ())
    assert (spent.status, spent.type, spent.code) == (
        429,
        "insufficient_quota",
        "insufficient_quota",
    )
    assert dict(spent.headers) == {b"x-should-retry": b"false"}  # a total budget never renews


def test_budget_periods_are_utc_calendar_periods() -> None:
    now = datetime.datetime(2026, 12, 31, 23, 30, tzinfo=datetime.UTC).timestamp()
    new_year = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC).timestamp()
    assert budget.period("daily", now) == budget.Period("2026-12-31", new_year)
    assert budget.period("monthly", now) == budget.Period("2026-12", new_year)
    monday = datetime.datetime(2027, 1, 4, tzinfo=datetime.UTC).timestamp()
    assert budget.period("weekly", now) == budget.Period("2026-W53", monday)
    assert budget.period("total", now) == budget.Period("total", None)
    assert budget.period("daily", now).seconds_left(now) == 1800


def test_costs_in_nano_dollars_round_up() -> None:
    price = config.Price(input_per_million_tokens="0.15", output_per_million_tokens="0.6")
    assert budget.cost_nanos(price, 1000, 100) == 150_000 + 60_000  # $0.00015 + $0.00006
    cheap = config.Price(input_per_million_tokens="0.0001")
    assert budget.cost_nanos(cheap, 1, 0) == 1  # 0.1 nano-dollars is charged as 1
    assert budget.cost_nanos(price, 0, 0) == 0
    assert budget.usd_to_nanos("100") == 100 * budget.NANOS_PER_USD


def test_cached_prompt_tokens_cost_the_cache_prices() -> None:
    price = config.Price(
        input_per_million_tokens="3",
        output_per_million_tokens="15",
        cache_read_input_per_million_tokens="0.3",
        cache_write_input_per_million_tokens="3.75",
    )
    # 1000 prompt tokens: 600 read from the cache, 100 written to it, 300 plain.
    usage = base.Usage(1000, 40, cache_read_tokens=600, cache_write_tokens=100)
    expected = 300 * 3_000 + 600 * 300 + 100 * 3_750 + 40 * 15_000
    assert budget.usage_cost_nanos(price, usage) == expected
    assert price.cost(1000, 40, cache_read_tokens=600, cache_write_tokens=100) == (
        decimal.Decimal(expected) / budget.NANOS_PER_USD
    )


def test_without_cache_prices_cached_tokens_cost_the_input_price() -> None:
    price = config.Price(input_per_million_tokens="3", output_per_million_tokens="15")
    usage = base.Usage(1000, 40, cache_read_tokens=600, cache_write_tokens=100)
    assert budget.usage_cost_nanos(price, usage) == budget.cost_nanos(price, 1000, 40)
    only_reads = config.Price(
        input_per_million_tokens="3", cache_read_input_per_million_tokens="0.3"
    )
    assert budget.usage_cost_nanos(only_reads, usage) == 400 * 3_000 + 600 * 300


def request(kind: str, body: dict[str, Any]) -> validate.Request:
    return validate.parse(kind, orjson.dumps(body))  # type: ignore[arg-type]


def test_prompt_token_estimates() -> None:
    chat = request("chat", {"model": "m", "messages": [{"role": "user", "content": "x" * 40}]})
    assert tokens.estimate(chat) == 10 + 3  # three tokens of framing a message
    assert tokens.estimate(request("completion", {"model": "m", "prompt": ["abcd", "ef"]})) == 2
    assert tokens.estimate(request("embedding", {"model": "m", "input": [[1, 2, 3], [4]]})) == 4
    assert tokens.estimate(request("embedding", {"model": "m", "input": [1, 2, 3]})) == 3


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        (b"trace-42", True),
        (b"0f2c1a/span:7", True),
        (b"a" * 129, False),
        (b"has space", False),
        (b"rsk_" + b"A" * 43, False),
        (b"prefix-rsk_" + b"A" * 43, False),
        (None, False),
    ],
)
def test_request_ids(incoming: bytes | None, kept: bool) -> None:
    chosen = accesslog.request_id(incoming)
    assert (incoming is not None and chosen == incoming.decode()) is kept
    if not kept:
        assert chosen.startswith("req_")
