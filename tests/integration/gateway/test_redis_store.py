"""The Redis store against a real Redis: the same limits as the in-process store, atomic under
concurrent callers, leases that lapse when their holder stops renewing, and a Redis that dies
and comes back."""

from __future__ import annotations

import asyncio
import time

import pytest

from devcluster.redis import RedisServer
from runestone_gateway.admission import budget, limitstore, redisstore


@pytest.fixture
def redis(redis_server: RedisServer) -> RedisServer:
    redis_server.start()
    redis_server.flush()
    return redis_server


def ask(**fields: object) -> limitstore.Ask:
    return limitstore.Ask(scope="ns/gw/team", **fields)  # type: ignore[arg-type]


async def test_a_burst_from_many_clients_gets_exactly_the_limit(redis: RedisServer) -> None:
    stores = [redisstore.RedisStore(redis.url) for _ in range(3)]
    try:
        verdicts = await asyncio.gather(
            *(stores[i % 3].admit(ask(requests_per_minute=25)) for i in range(60))
        )
    finally:
        for store in stores:
            await store.close()
    admitted = [v for v in verdicts if v.refused is None]
    assert len(admitted) == 25
    assert sorted(v.requests.remaining for v in admitted if v.requests) == list(range(25))
    refused = [v for v in verdicts if v.refused is not None]
    assert {v.refused for v in refused} == {"requests"}
    assert all(v.retry_after is not None and 0 < v.retry_after <= 2.4 + 0.1 for v in refused)


async def test_refusal_takes_nothing_and_reports_the_state(redis: RedisServer) -> None:
    store = redisstore.RedisStore(redis.url)
    try:
        both = {"requests_per_minute": 10, "tokens_per_minute": 100}
        assert (await store.admit(ask(tokens=90, **both))).refused is None
        refused = await store.admit(ask(tokens=20, **both))
        assert refused.refused == "tokens"
        assert refused.requests is not None
        assert refused.requests.remaining == 9
        assert refused.tokens is not None
        assert refused.tokens.remaining == 10
        assert refused.retry_after == pytest.approx(6.0, abs=0.1)
        too_big = await store.admit(ask(tokens=101, **both))
        assert (too_big.refused, too_big.retry_after) == ("tokens", None)
        admitted = await store.admit(ask(tokens=10, **both))
        assert admitted.refused is None
        assert admitted.requests is not None
        assert admitted.requests.remaining == 8
    finally:
        await store.close()


async def test_token_corrections(redis: RedisServer) -> None:
    store = redisstore.RedisStore(redis.url)
    try:
        limit = {"tokens_per_minute": 100}
        assert (await store.admit(ask(tokens=10, **limit))).refused is None
        await store.settle(limitstore.Settlement("ns/gw/team", 100, token_delta=95))  # used 105
        refused = await store.admit(ask(tokens=1, **limit))
        assert refused.refused == "tokens"
        assert refused.tokens is not None
        assert refused.tokens.remaining == 0
        await store.settle(limitstore.Settlement("ns/gw/team", 100, token_delta=-100))
        back = await store.admit(ask(tokens=1, **limit))
        assert back.refused is None
        assert back.tokens is not None
        assert back.tokens.remaining in (93, 94)  # 6 used, plus what refilled meanwhile
    finally:
        await store.close()


async def test_concurrency_leases_are_given_back_or_lapse(redis: RedisServer) -> None:
    holder = redisstore.RedisStore(redis.url, lease_seconds=1.0)
    other = redisstore.RedisStore(redis.url, lease_seconds=1.0)
    try:
        limit = {"max_concurrent": 2}
        assert (await holder.admit(ask(lease="a", **limit))).refused is None
        assert (await holder.admit(ask(lease="b", **limit))).refused is None
        assert (await other.admit(ask(lease="c", **limit))).refused == "concurrency"
        await holder.settle(limitstore.Settlement("ns/gw/team", lease="a"))
        assert (await other.admit(ask(lease="c", **limit))).refused is None
        # The holder renews "b" while it runs: it outlives its one-second lease.
        await asyncio.sleep(2.0)
        assert (await other.admit(ask(lease="d", **limit))).refused == "concurrency"
        # A holder that dies stops renewing; its slot lapses.
        await holder.close()
        await other.settle(limitstore.Settlement("ns/gw/team", lease="c"))
        await asyncio.sleep(1.5)
        assert (await other.admit(ask(lease="d", **limit))).refused is None
        assert (await other.admit(ask(lease="e", **limit))).refused is None
    finally:
        await other.close()


async def test_budget_per_period(redis: RedisServer) -> None:
    store = redisstore.RedisStore(redis.url)
    period = budget.period("monthly", time.time())
    try:
        spend = limitstore.Settlement("ns/gw/team", cost_nanos=600, period=period)
        limit = {"budget_nanos": 1000, "period": period}
        assert (await store.admit(ask(**limit))).refused is None
        assert await store.settle(spend) == 600
        assert (await store.admit(ask(**limit))).refused is None
        assert await store.settle(spend) == 1200
        assert (await store.admit(ask(**limit))).refused == "budget"
        other = budget.Period("1999-01", time.time() + 60)
        assert (await store.admit(ask(budget_nanos=1000, period=other))).refused is None
        ttl = int(redis.command("TTL", redisstore.keys("ns/gw/team")[3] + ":" + period.name)[1:-2])
        assert 0 < ttl <= 32 * 86400 + redisstore.SPENT_GRACE_SECONDS
    finally:
        await store.close()


async def test_a_dead_redis_fails_fast_and_is_tried_again(redis: RedisServer) -> None:
    failures: list[tuple[str, str]] = []
    store = redisstore.RedisStore(redis.url, on_failure=lambda *failure: failures.append(failure))
    try:
        assert (await store.admit(ask(requests_per_minute=5))).refused is None
        redis.kill()
        with pytest.raises(limitstore.Unavailable):
            await store.admit(ask(requests_per_minute=5))
        started = time.monotonic()
        with pytest.raises(limitstore.Unavailable, match="moments ago"):
            await store.admit(ask(requests_per_minute=5))
        assert time.monotonic() - started < 0.5, "a known-down Redis is not waited for"
        redis.start()
        await asyncio.sleep(redisstore.RETRY_SECONDS)
        back = await store.admit(ask(requests_per_minute=5))
        assert back.refused is None
        assert back.requests is not None
        assert back.requests.remaining == 4  # a new Redis starts empty
    finally:
        await store.close()
