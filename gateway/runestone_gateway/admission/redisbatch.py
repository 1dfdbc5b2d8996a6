"""Lua script calls to Redis, sent together: every call made during one turn of the event loop
goes out in one pipeline, one write and one round trip, in the order the calls were made.

Under load many requests ask at once, and a round trip per call would cost each of them a
client-side command and a context switch of Redis; a batch costs that once. A lone call goes out
alone at the end of its turn, so nothing waits for company. Scripts are called by SHA-1; a Redis
that does not know them (restarted, or failed over) is sent them, and only the calls it refused
are made again."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from typing import Any

import redis.asyncio
import redis.exceptions

_Call = tuple[str, list[str], list[Any], "asyncio.Future[Any]"]


class Scripts:
    def __init__(self, client: redis.asyncio.Redis, sources: Mapping[str, str]) -> None:
        self._client = client
        self._sources = dict(sources)
        self._shas = {  # Redis names scripts by their SHA-1
            name: hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
            for name, source in sources.items()
        }
        self._queue: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    def call(self, name: str, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """The script's reply, or the exception Redis or the connection raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((name, keys, args, future))
        if len(self._queue) == 1:
            loop.call_soon(self._flush)  # after this turn, so its other calls join the batch
        return future

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        task = asyncio.create_task(self._send(batch), name="redis-batch")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Call]) -> None:
        try:
            replies = await self._run(batch)
        except Exception as error:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (*_, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue  # its caller gave up (cancelled)
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _run(self, batch: list[_Call]) -> list[Any]:
        replies = await self._pipeline(batch)
        unknown = [i for i, reply in enumerate(replies) if _no_script(reply)]
        if unknown:
            for source in self._sources.values():
                await self._client.script_load(source)
            again = await self._pipeline([batch[i] for i in unknown])
            for index, reply in zip(unknown, again, strict=True):
                replies[index] = reply
        return replies

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for name, keys, args, _ in batch:
                pipe.execute_command("EVALSHA", self._shas[name], len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))

    async def close(self) -> None:
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)


def _no_script(reply: Any) -> bool:
    return isinstance(reply, redis.exceptions.NoScriptError) or (
        isinstance(reply, redis.exceptions.ResponseError) and str(reply).startswith("NOSCRIPT")
    )
