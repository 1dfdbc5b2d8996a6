"""Request bodies read within bounds (api.intake), with an ASGI `receive` the test feeds: whole
bodies at once, the rest of an arriving one, 408 for a stall or a drip, 503 past the process's
bound on held bytes (which always comes back to zero), 400 for broken framing, and no 408 for
a cancellation that is not the watchdog's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runestone_gateway import config, errors
from runestone_gateway.api import asgi, intake
from runestone_gateway.telemetry import metrics
from runestone_gateway.transport import extensions

SERVER = config.Server(
    max_body_bytes=4096,
    max_buffered_body_bytes=8000,
    body_timeout_seconds=0.3,
    body_min_bytes_per_second=1000,
)


class Feed:
    """An ASGI `receive` that hands out what the test puts in."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def put(self, body: bytes, more: bool = True) -> None:
        self.queue.put_nowait({"type": "http.request", "body": body, "more_body": more})

    async def __call__(self) -> asgi.Message:
        message = await self.queue.get()
        if isinstance(message, BaseException):
            raise message
        return dict(message)


def scope(length: int | None = None) -> asgi.Scope:
    headers = [] if length is None else [(b"content-length", b"%d" % length)]
    return {"type": "http", "headers": headers}


@pytest.fixture
def bodies() -> intake.Intake:
    return intake.Intake(metrics.Metrics())


async def test_a_body_that_came_with_its_head_is_read_at_once(bodies: intake.Intake) -> None:
    feed = Feed()
    feed.put(b"{}", more=False)
    assert await bodies.read(scope(2), feed, SERVER) == b"{}"
    assert bodies.buffered == 0


async def test_an_arriving_body_is_held_counted_and_let_go(bodies: intake.Intake) -> None:
    feed = Feed()
    feed.put(b"abc")
    arriving = await bodies.read(scope(9), feed, SERVER)
    assert isinstance(arriving, intake.Arriving)
    reading = asyncio.ensure_future(arriving.rest())
    await asyncio.sleep(0.01)
    assert bodies.buffered == 3
    feed.put(b"def")
    await asyncio.sleep(0.01)
    assert bodies.buffered == 6
    feed.put(b"ghi", more=False)
    assert await reading == b"abcdefghi"
    assert bodies.buffered == 0


async def test_a_body_that_never_comes_is_408(bodies: intake.Intake) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(errors.GatewayError) as late:
        await bodies.read(scope(10), Feed(), SERVER)
    assert (late.value.status, late.value.code) == (408, "request_timeout")
    assert errors.CLOSE in late.value.headers
    assert 0.3 <= loop.time() - started < 1.0


async def test_a_body_that_stalls_or_drips_is_408(bodies: intake.Intake) -> None:
    stalled = Feed()
    stalled.put(b"x" * 100)
    arriving = await bodies.read(scope(1000), stalled, SERVER)
    assert isinstance(arriving, intake.Arriving)
    with pytest.raises(errors.GatewayError) as late:
        await arriving.rest()
    assert "nothing arrived for 0.3 seconds" in late.value.message
    assert bodies.buffered == 0

    dripping = Feed()
    dripping.put(b"x")
    arriving = await bodies.read(scope(4000), dripping, SERVER)
    assert isinstance(arriving, intake.Arriving)
    reading = asyncio.ensure_future(arriving.rest())
    while not reading.done():  # 100 bytes a second, a tenth of the minimum
        dripping.put(b"x" * 5)
        await asyncio.sleep(0.05)
    with pytest.raises(errors.GatewayError) as slow:
        await reading
    assert "slower than 1000 bytes per second" in slow.value.message
    assert bodies.buffered == 0


async def test_bodies_past_the_process_bound_are_503(bodies: intake.Intake) -> None:
    first, second, third = Feed(), Feed(), Feed()
    first.put(b"x" * 4000)
    held = await bodies.read(scope(4096), first, SERVER)
    assert isinstance(held, intake.Arriving)
    holding = asyncio.ensure_future(held.rest())
    await asyncio.sleep(0.01)
    second.put(b"x" * 3000)
    also_held = await bodies.read(scope(None), second, SERVER)  # chunked: no declared length
    assert isinstance(also_held, intake.Arriving)
    past = asyncio.ensure_future(also_held.rest())
    await asyncio.sleep(0.01)
    second.put(b"x" * 1001)  # 8001 bytes would be held
    with pytest.raises(errors.GatewayError) as refused:
        await past
    assert (refused.value.status, refused.value.code) == (503, "overloaded")
    assert (b"retry-after", b"1") in refused.value.headers
    third.put(b"x")
    with pytest.raises(errors.GatewayError):  # its declared length cannot be held: at once
        await bodies.read(scope(4096), third, SERVER)
    first.put(b"", more=False)
    assert len(await holding) == 4000
    assert bodies.buffered == 0


async def test_broken_framing_is_400_and_other_cancellations_go_on(
    bodies: intake.Intake,
) -> None:
    broken = Feed()
    broken.queue.put_nowait(extensions.BrokenBody())
    with pytest.raises(errors.GatewayError) as refused:
        await bodies.read(scope(10), broken, SERVER)
    assert refused.value.status == 400
    reading = asyncio.ensure_future(bodies.read(scope(10), Feed(), SERVER))
    await asyncio.sleep(0.01)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
