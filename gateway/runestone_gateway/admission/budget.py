"""Money, in whole nano-dollars (1e-9 USD): request costs from the model price table, budget caps,
and the calendar periods (UTC) budgets are kept for.

Integers keep sums exact wherever they are kept (Redis `INCRBY`, a Python int); a request's cost
is rounded up to the next nano-dollar, so a budget is never under-charged."""

from __future__ import annotations

import datetime
import decimal
import functools
import math
from dataclasses import dataclass

from runestone_gateway import config
from runestone_gateway.providers import base

NANOS_PER_USD = 1_000_000_000
_UTC = datetime.UTC


@dataclass(frozen=True, slots=True)
class Period:
    """One budget period: its name (part of the counter's key) and when it ends."""

    name: str  # "2026-05", "2026-W20", "2026-05-14" or "total"
    ends_at: float | None  # Unix seconds; None for `total`

    def seconds_left(self, now: float) -> float | None:
        return None if self.ends_at is None else max(self.ends_at - now, 0.0)


def period(kind: config.BudgetPeriod, now: float) -> Period:
    """The period of this kind that contains `now`."""
    if kind == "total":
        return Period("total", None)
    day = datetime.datetime.fromtimestamp(now, _UTC).date()
    if kind == "daily":
        start, name = day, day.isoformat()
        end = start + datetime.timedelta(days=1)
    elif kind == "weekly":
        year, week, weekday = day.isocalendar()
        start = day - datetime.timedelta(days=weekday - 1)
        end, name = start + datetime.timedelta(days=7), f"{year}-W{week:02d}"
    else:
        start, name = day.replace(day=1), f"{day.year}-{day.month:02d}"
        end = (start + datetime.timedelta(days=32)).replace(day=1)
    midnight = datetime.datetime.combine(end, datetime.time(), _UTC)
    return Period(name, midnight.timestamp())


@functools.lru_cache(maxsize=1024)
def usd_to_nanos(usd: str) -> int:
    """A decimal dollar string as nano-dollars, rounded up."""
    return math.ceil(decimal.Decimal(usd) * NANOS_PER_USD)


@functools.lru_cache(maxsize=1024)
def _per_token(per_million: str) -> decimal.Decimal:
    # Dollars per million tokens, times 1,000, are nano-dollars per token.
    return decimal.Decimal(per_million) * (NANOS_PER_USD // 1_000_000)


def cost_nanos(
    price: config.Price,
    input_tokens: int,
    output_tokens: int,
    *,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> int:
    """What one request cost, in nano-dollars, rounded up. `input_tokens` are all its prompt
    tokens; the cache reads and writes among them are charged at the cache prices."""
    if input_tokens <= 0 and output_tokens <= 0:
        return 0
    total = _per_token(price.output_per_million_tokens) * output_tokens
    if cache_read_tokens or cache_write_tokens:
        uncached = max(input_tokens - cache_read_tokens - cache_write_tokens, 0)
        total += (
            _per_token(price.input_per_million_tokens) * uncached
            + _per_token(price.cache_read) * cache_read_tokens
            + _per_token(price.cache_write) * cache_write_tokens
        )
    else:
        total += _per_token(price.input_per_million_tokens) * input_tokens
    return math.ceil(total)


def usage_cost_nanos(price: config.Price, usage: base.Usage) -> int:
    """What a request with this usage cost, in nano-dollars, rounded up."""
    return cost_nanos(
        price,
        usage.input_tokens,
        usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )


def nanos_to_usd(nanos: int) -> float:
    return nanos / NANOS_PER_USD
