"""Script calls made in one event-loop turn go to Redis as one pipeline, in order; a Redis that
lost its scripts gets them again and each call still runs exactly once; one failing call fails
alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio
import redis.exceptions

from devcluster.redis import RedisServer
from runestone_gateway.admission import redisbatch

COUNT = "return redis.call('INCR', KEYS[1])"
FAIL = "return redis.error_reply('refused ' .. ARGV[1])"


class Counted(redisbatch.Scripts):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.batches: list[int] = []

    async def _pipeline(self, batch: list[Any]) -> list[Any]:
        self.batches.append(len(batch))
        return await super()._pipeline(batch)


@pytest.fixture
async def scripts(redis_server: RedisServer) -> Any:
    redis_server.start()
    redis_server.flush()
    client = redis.asyncio.Redis.from_url(redis_server.url)
    batcher = Counted(client, {"count": COUNT, "fail": FAIL})
    yield batcher
    await batcher.close()
    await client.aclose()


async def test_calls_of_one_turn_share_a_pipeline(scripts: Counted) -> None:
    replies = await asyncio.gather(*(scripts.call("count", ["n"], []) for _ in range(20)))
    assert replies == list(range(1, 21))
    assert scripts.batches[-1] == 20  # (the first batch also carried the lone NOSCRIPT retry)
    assert await scripts.call("count", ["n"], []) == 21
    assert scripts.batches[-1] == 1


async def test_lost_scripts_are_loaded_again_and_run_once(
    scripts: Counted, redis_server: RedisServer
) -> None:
    assert await scripts.call("count", ["m"], []) == 1
    assert redis_server.command("SCRIPT", "FLUSH").startswith(b"+OK")
    replies = await asyncio.gather(*(scripts.call("count", ["m"], []) for _ in range(5)))
    assert replies == [2, 3, 4, 5, 6]


async def test_a_failing_call_fails_alone(scripts: Counted) -> None:
    calls = [scripts.call("count", ["f"], []), scripts.call("fail", [], ["x"])]
    calls.append(scripts.call("count", ["f"], []))
    first, failed, last = await asyncio.gather(*calls, return_exceptions=True)
    assert (first, last) == (1, 2)
    assert isinstance(failed, redis.exceptions.ResponseError)
    assert "refused x" in str(failed)
