"""A request whose body is still arriving is admitted in two steps on one ticket: its request
rate, concurrency slot and budget before the body, its prompt tokens once the body is known.
What the key is charged and given back is the same as for a request admitted in one step."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_gateway import config, errors
from runestone_gateway.admission import auth, limits, limitstore
from runestone_gateway.telemetry import metrics


def who(**limit_fields: Any) -> auth.Principal:
    entry = config.KeyTableEntry.model_validate(
        {"id": "team", "sha256": "0" * 64, "limits": limit_fields}
    )
    return auth.principal(entry)


@pytest.fixture
def store() -> limitstore.LocalStore:
    return limitstore.LocalStore(clock=lambda: 1000.0)


@pytest.fixture
def limiter(store: limitstore.LocalStore) -> limits.Limiter:
    return limits.Limiter(store, "open", metrics.Metrics(), limits.FailureLog())


async def test_before_the_body_the_slot_and_rate_are_taken_but_no_tokens(
    limiter: limits.Limiter, store: limitstore.LocalStore
) -> None:
    key = who(requestsPerMinute=10, tokensPerMinute=100, maxConcurrentRequests=1)
    ticket = await limiter.admit_before_body(key)
    assert [name for name, _ in ticket.headers] == [
        b"x-ratelimit-limit-requests",
        b"x-ratelimit-remaining-requests",
        b"x-ratelimit-reset-requests",
    ]
    with pytest.raises(errors.GatewayError) as busy:
        await limiter.admit_before_body(key)
    assert busy.value.code == "concurrency_limit_exceeded"
    headers = dict(await ticket.take_tokens(30))
    assert headers[b"x-ratelimit-remaining-tokens"] == b"70"
    await ticket.settle(50, 0)  # 20 more than estimated
    later = await limiter.admit(key, 1)
    assert dict(later.headers)[b"x-ratelimit-remaining-tokens"] == b"49"
    assert dict(later.headers)[b"x-ratelimit-remaining-requests"] == b"8"


async def test_tokens_that_do_not_fit_are_refused_and_the_slot_given_back(
    limiter: limits.Limiter,
) -> None:
    key = who(tokensPerMinute=100, maxConcurrentRequests=1)
    ticket = await limiter.admit_before_body(key)
    with pytest.raises(errors.GatewayError) as refused:
        await ticket.take_tokens(101)
    assert (refused.value.status, refused.value.type) == (429, "tokens")
    await ticket.settle(0, 0)  # as the app does when nothing was answered
    again = await limiter.admit(key, 100)
    assert dict(again.headers)[b"x-ratelimit-remaining-tokens"] == b"0", "nothing was taken"


async def test_keys_without_a_token_limit_take_no_second_step(limiter: limits.Limiter) -> None:
    ticket = await limiter.admit_before_body(who(maxConcurrentRequests=2))
    assert await ticket.take_tokens(10) == ()
