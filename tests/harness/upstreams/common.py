"""Pieces both stand-ins share: request recording, delays, and streamed answers that notice a
client going away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from harness.upstreams import control


async def record(request: Request, record: control.Record) -> Any:
    raw = await request.body()
    body = json.loads(raw) if raw else None
    record.add(
        control.Received(
            method=request.method,
            path=request.url.path,
            headers={key.lower(): value for key, value in request.headers.items()},
            body=body,
            client_port=request.client.port if request.client else 0,
        )
    )
    return body


async def pause(request: Request, seconds: float, record: control.Record) -> bool:
    """Wait `seconds` before answering, unless the client leaves first (then record that).
    Returns whether the client left."""
    left = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({left}, timeout=seconds)
    finally:
        left.cancel()
    if done:
        record.saw_disconnect()
    return bool(done)


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def words(text: str) -> list[str]:
    parts = text.split(" ")
    return [part if index == 0 else " " + part for index, part in enumerate(parts)]


def fragments(text: str, size: int = 7) -> list[str]:
    return [text[index : index + size] for index in range(0, len(text), size)]


def stream(
    events: Callable[[], AsyncIterator[bytes]],
    behaviour: control.Behaviour,
    record: control.Record,
) -> StreamingResponse:
    """Send `events` with the behaviour's pacing; notice a client that goes away."""

    async def paced() -> AsyncIterator[bytes]:
        completed = False
        try:
            first = True
            async for event in events():
                if not first and behaviour.chunk_delay_seconds:
                    await asyncio.sleep(behaviour.chunk_delay_seconds)
                yield event
                if first:
                    first = False
                    record.first_chunk_sent.set()
                    if behaviour.break_after_first:
                        raise ConnectionAbortedError("stand-in drops the stream on purpose")
                    if behaviour.hold_after_first is not None:
                        await behaviour.hold_after_first.wait()
            completed = True
        finally:
            if not completed and not behaviour.break_after_first:
                record.saw_disconnect()

    return StreamingResponse(paced(), media_type="text/event-stream")
