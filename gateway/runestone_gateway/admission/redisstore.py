"""Per-key counters in Redis, shared by every gateway process and replica.

Each admission and each settlement is one Lua script, so Redis runs it atomically: N replicas
enforce a limit once; calls made together go out in one pipeline (`redisbatch`). The scripts
read the time from Redis itself (`TIME`), so replicas whose clocks disagree still agree on every
bucket. A key's counters share one hash tag, `{scope}`.

Concurrent-request slots are leases in a sorted set, scored by when they lapse. This process
renews the leases of its requests in flight; a replica that dies stops renewing, and its slots
free themselves within `LEASE_SECONDS`.

When Redis fails, calls raise `limitstore.Unavailable` at once and, for `RETRY_SECONDS`, do not
try again: a down Redis costs requests no waiting. The first call after that tries again, so the
limits apply again as soon as Redis is back. Counters live only in Redis's memory unless Redis
persists them (use AOF when budgets must outlive a Redis restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from runestone_gateway.admission import limitstore, redisbatch

log = logging.getLogger("runestone.gateway.limits")

TIMEOUT_SECONDS = 1.0
"""Connecting to Redis, and each answer, may take this long before Redis counts as down."""
RETRY_SECONDS = 1.0
"""After a failure, calls fail at once for this long, then Redis is tried again."""
LEASE_SECONDS = 30.0
"""A concurrent-request slot lapses this long after its last renewal; renewals come every
third of it."""

_RATE = """
local period = 60000
local tolerance = 0.001
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000

local function remaining(used, interval, limit)
  local left = math.floor((period - used) / interval + 0.000001)
  if left < 0 then return 0 end
  if left > limit then return limit end
  return left
end

local function tat_of(key)
  local tat = tonumber(redis.call('GET', key))
  if tat == nil or tat < now then return now end
  return tat
end

local function store_tat(key, tat)
  if tat > now then
    redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
  else
    redis.call('DEL', key)
  end
end
"""

ADMIT = (
    _RATE
    + """
-- KEYS: requests, tokens, leases, spent
-- ARGV: requests/min, tokens/min, tokens, max concurrent, lease, lease ms, budget (-1: none)
local rpm, tpm, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local max_concurrent, lease, lease_ms = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local budget = tonumber(ARGV[7])

-- take: allowed, the tat after taking, the tat as it is, interval, retry ms (-1: never)
local function take(key, limit, amount)
  local interval = period / limit
  local base = tat_of(key)
  local after = base + amount * interval
  if after - now <= period + tolerance then return true, after, base, interval, 0 end
  local retry = -1
  if amount * interval <= period + tolerance then retry = after - now - period end
  return false, after, base, interval, retry
end

local r_ok, r_after, r_base, r_interval, r_retry = true, now, now, 1, 0
if rpm > 0 then r_ok, r_after, r_base, r_interval, r_retry = take(KEYS[1], rpm, 1) end
local t_ok, t_after, t_base, t_interval, t_retry = true, now, now, 1, 0
if tpm > 0 then t_ok, t_after, t_base, t_interval, t_retry = take(KEYS[2], tpm, cost) end

local refused, retry = '', 0
if budget >= 0 and (tonumber(redis.call('GET', KEYS[4])) or 0) >= budget then
  refused, retry = 'budget', -1
end
if refused == '' and max_concurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= max_concurrent then refused, retry = 'concurrency', 1000 end
end
if refused == '' and not (r_ok and t_ok) then
  if not r_ok then refused = 'requests' else refused = 'tokens' end
  if (not r_ok and r_retry < 0) or (not t_ok and t_retry < 0) then
    retry = -1
  else
    if not r_ok then retry = r_retry end
    if not t_ok and t_retry > retry then retry = t_retry end
  end
end
if refused == '' then
  if rpm > 0 then store_tat(KEYS[1], r_after) end
  if tpm > 0 then store_tat(KEYS[2], t_after) end
  if max_concurrent > 0 then
    redis.call('ZADD', KEYS[3], now + lease_ms, lease)
    redis.call('PEXPIRE', KEYS[3], lease_ms * 2)
  end
else
  r_after, t_after = r_base, t_base
end
return {refused, math.ceil(retry),
        remaining(r_after - now, r_interval, rpm), math.ceil(r_after - now),
        remaining(t_after - now, t_interval, tpm), math.ceil(t_after - now)}
"""
)

SETTLE = (
    _RATE
    + """
-- KEYS: tokens, leases, spent
-- ARGV: tokens/min, token delta, lease ('' none), cost, record spending (1/0), ttl s (0: none)
local tpm, delta = tonumber(ARGV[1]), tonumber(ARGV[2])
if tpm > 0 and delta ~= 0 then
  store_tat(KEYS[1], math.max(tat_of(KEYS[1]) + delta * period / tpm, now))
end
if ARGV[3] ~= '' then redis.call('ZREM', KEYS[2], ARGV[3]) end
if ARGV[5] == '1' then
  redis.call('INCRBY', KEYS[3], ARGV[4])
  local ttl = tonumber(ARGV[6])
  if ttl > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
  return redis.call('GET', KEYS[3])
end
return false
"""
)

RENEW = """
-- KEYS: leases; ARGV: lease, lease ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lease_ms = tonumber(ARGV[2])
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + lease_ms, ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], lease_ms * 2)
end
return 1
"""

SPENT_GRACE_SECONDS = 86400
"""A budget counter outlives its period by a day, then Redis forgets it."""

_FAILURES = (redis.exceptions.RedisError, OSError, TimeoutError)


def keys(scope: str) -> tuple[str, str, str, str]:
    """The Redis keys of one key id: requests, tokens, leases, spending."""
    tag = "runestone:{" + scope + "}:"
    return tag + "requests", tag + "tokens", tag + "leases", tag + "spent"


class RedisStore(limitstore.Store):
    def __init__(
        self,
        url: str,
        *,
        on_failure: Callable[[str, str], None] = lambda operation, detail: None,
        clock: Callable[[], float] = time.monotonic,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self._client = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),  # the fail mode decides, at once
        )
        self._scripts = redisbatch.Scripts(
            self._client, {"admit": ADMIT, "settle": SETTLE, "renew": RENEW}
        )
        self._on_failure = on_failure
        self._clock = clock
        self._down_until = 0.0
        self._leases: dict[str, str] = {}  # lease -> its sorted set
        self._renewer: asyncio.Task[None] | None = None
        self._lease_ms = int(lease_seconds * 1000)

    @property
    def client(self) -> redis.asyncio.Redis:
        """The connection pool, for the other state kept in this Redis (stored responses)."""
        return self._client

    async def admit(self, ask: limitstore.Ask) -> limitstore.Verdict:
        key_names = keys(ask.scope)
        args = [
            ask.requests_per_minute or 0,
            ask.tokens_per_minute or 0,
            ask.tokens,
            ask.max_concurrent or 0,
            ask.lease,
            self._lease_ms,
            ask.budget_nanos if ask.budget_nanos is not None and ask.period else -1,
        ]
        budget_key = key_names[3] + ":" + ask.period.name if ask.period else key_names[3]
        reply = await self._call("admit", [*key_names[:3], budget_key], args)
        refused_raw, retry_ms, r_left, r_reset, t_left, t_reset = reply
        refused = refused_raw.decode() if refused_raw else None
        if refused is None and ask.max_concurrent:
            self._leases[ask.lease] = key_names[2]
            self._start_renewing()
        requests = (
            limitstore.Window(ask.requests_per_minute, int(r_left), int(r_reset) / 1000)
            if ask.requests_per_minute
            else None
        )
        tokens = (
            limitstore.Window(ask.tokens_per_minute, int(t_left), int(t_reset) / 1000)
            if ask.tokens_per_minute
            else None
        )
        retry = None if refused is None or int(retry_ms) < 0 else int(retry_ms) / 1000
        return limitstore.Verdict(refused, retry, requests, tokens)

    async def settle(self, settlement: limitstore.Settlement) -> int | None:
        tokens_key, leases_key, spent_key = keys(settlement.scope)[1:]
        if settlement.lease is not None:
            self._leases.pop(settlement.lease, None)
        period = settlement.period
        ttl = 0
        if period is not None and period.ends_at is not None:
            ttl = int(period.ends_at - time.time()) + SPENT_GRACE_SECONDS
        args = [
            settlement.tokens_per_minute or 0,
            settlement.token_delta,
            settlement.lease or "",
            settlement.cost_nanos,
            1 if period is not None else 0,
            max(ttl, 0),
        ]
        spent_key = spent_key + ":" + period.name if period else spent_key
        reply = await self._call("settle", [tokens_key, leases_key, spent_key], args)
        return int(reply) if reply is not None else None

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self._scripts.close()
        await self._client.aclose()

    async def _call(self, script: str, key_names: list[str], args: list[Any]) -> Any:
        if self._clock() < self._down_until:
            raise limitstore.Unavailable("Redis failed moments ago; not trying again yet")
        try:
            return await self._scripts.call(script, key_names, args)
        except _FAILURES as error:
            self._down_until = self._clock() + RETRY_SECONDS
            raise limitstore.Unavailable(_describe(error)) from None

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_forever(), name="redis-lease-renewal")

    async def _renew_forever(self) -> None:
        while self._leases:
            await asyncio.sleep(self._lease_ms / 3000)
            renewals = [
                self._scripts.call("renew", [key], [lease, self._lease_ms])
                for lease, key in self._leases.items()
            ]
            for outcome in await asyncio.gather(*renewals, return_exceptions=True):
                if isinstance(outcome, _FAILURES):
                    self._on_failure("renew", _describe(outcome))
                    break


def _describe(error: BaseException) -> str:
    # redis-py messages name the host and port, never the password of the URL.
    detail = str(error).strip()
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__
