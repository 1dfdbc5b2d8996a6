"""A key's storage quotas (`maxStoredBytes`, `maxFiles`) held under concurrent uploads. Every
upload holds room in a ledger of uploads in flight (the shared store's, so all replicas see it,
or else the process's own) before it streams: as much of what its `content-length` announces
as is left, then more as parts arrive beyond that. The room left is the quota less what is
stored and what the other uploads hold, and it is measured and taken under the owner's lock, as
is an upload's end (its file recorded, its hold released): so the first comes first, nothing
is counted twice or missed, and concurrent uploads never store more than the quota. A hold goes
when its upload ends, either way; one whose process died goes stale and is ignored."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from runestone_gateway import errors
from runestone_gateway.retrieval import records

log = logging.getLogger("runestone.gateway.retrieval")

STALE_SECONDS = 120.0
"""A hold not renewed for this long belongs to an upload whose process died (a live upload
renews it with every stored part)."""
KEY_PREFIX = "runestone:uploads:"
LOCK_PREFIX = "runestone:uploads-lock:"
LOCK_SECONDS = 10.0
"""How long one owner's lock is held at most (it covers a few Weaviate reads or one write)."""


class Ledger(Protocol):
    def lock(self, owner: str) -> contextlib.AbstractAsyncContextManager[None]:
        """The owner's holds and stored files, for one measure-and-take or one upload's end."""

    async def hold(self, owner: str, upload_id: str, size: int) -> None:
        """Set what this upload holds (and renew it)."""

    async def held(self, owner: str) -> dict[str, int]:
        """The owner's live holds, by upload."""

    async def release(self, owner: str, upload_id: str) -> None: ...


class LocalLedger:
    """Within one process (a gateway without a shared store)."""

    def __init__(self) -> None:
        self._holds: dict[str, dict[str, tuple[int, float]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, owner: str) -> contextlib.AbstractAsyncContextManager[None]:
        # One per key of the key table: few, and kept.
        return self._locks.setdefault(owner, asyncio.Lock())

    async def hold(self, owner: str, upload_id: str, size: int) -> None:
        self._holds.setdefault(owner, {})[upload_id] = (size, time.monotonic())

    async def held(self, owner: str) -> dict[str, int]:
        fresh = time.monotonic() - STALE_SECONDS
        return {k: size for k, (size, at) in self._holds.get(owner, {}).items() if at > fresh}

    async def release(self, owner: str, upload_id: str) -> None:
        holds = self._holds.get(owner, {})
        holds.pop(upload_id, None)
        if not holds:
            self._holds.pop(owner, None)


class SharedLedger:
    """In the shared store (Redis): one hash per owner, a field per upload holding its size and
    when it was renewed. The hash expires when no upload renews it."""

    def __init__(self, client: Any) -> None:
        self._client = client  # redis.asyncio.Redis; not imported here (heavy, and optional)

    @contextlib.asynccontextmanager
    async def lock(self, owner: str) -> AsyncIterator[None]:
        # redis-py's lock: a token under SET NX with an expiry, released only by its holder.
        lock = self._client.lock(
            LOCK_PREFIX + owner, timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS
        )
        if not await self._call(lock.acquire()):
            raise _unavailable("the owner's upload lock stayed taken")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
                await lock.release()

    async def hold(self, owner: str, upload_id: str, size: int) -> None:
        key = KEY_PREFIX + owner
        await self._call(self._client.hset(key, upload_id, f"{size} {time.time()}"))
        await self._call(self._client.expire(key, int(STALE_SECONDS * 2)))

    async def held(self, owner: str) -> dict[str, int]:
        raw = await self._call(self._client.hgetall(KEY_PREFIX + owner))
        fresh = time.time() - STALE_SECONDS
        found: dict[str, int] = {}
        for field, value in (raw or {}).items():
            size, _, renewed = _text(value).partition(" ")
            if float(renewed or 0) > fresh:
                found[_text(field)] = int(size)
        return found

    async def release(self, owner: str, upload_id: str) -> None:
        await self._call(self._client.hdel(KEY_PREFIX + owner, upload_id))

    @staticmethod
    async def _call(pending: Any) -> Any:
        try:
            return await pending
        except Exception as error:  # redis-py's errors, OSError, timeouts
            raise _unavailable(type(error).__name__) from None


def _unavailable(why: str) -> errors.GatewayError:
    log.warning("upload quotas: the shared store failed: %s", why)
    return errors.GatewayError(
        503,
        "The shared store that holds uploads in flight against the key's storage limits "
        "cannot be reached; try again.",
        type=errors.SERVER,
        code="shared_store_unavailable",
        headers=((b"retry-after", b"1"),),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def used(
    store: records.Records, ledger: Ledger, owner: str, upload_id: str
) -> tuple[int, int]:
    """The owner's files and bytes, stored and held by the other uploads in flight (measured
    under the owner's lock)."""
    others = {k: v for k, v in (await ledger.held(owner)).items() if k != upload_id}
    count, stored = await store.usage(owner)
    return count + len(others), stored + sum(others.values())
