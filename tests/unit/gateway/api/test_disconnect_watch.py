"""asgi.CancelOnDisconnect: the block's work is cancelled when the client goes away, whether the
server says so through the gateway's disconnect hook or only through `receive`, and the
cancellation ends with the block; finished work leaves nothing behind; a cancellation from
elsewhere goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from runestone_gateway.api import asgi
from runestone_gateway.transport import extensions


class Hook:
    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def __call__(self, callback: Callable[[], None]) -> Callable[[], None]:
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    def leave(self) -> None:
        for callback in list(self.callbacks):
            callback()


def receive_disconnect_after(seconds: float) -> Any:
    async def receive() -> dict[str, Any]:
        await asyncio.sleep(seconds)
        return {"type": "http.disconnect"}

    return receive


async def never_disconnects() -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def watched(scope: Any, receive: Any, work: Any) -> tuple[bool, Any]:
    """(whether the client went away, what the work returned if it finished)."""
    result = None
    with asgi.CancelOnDisconnect(scope, receive) as watch:
        result = await work
    return watch.gone, result


async def slow(cancelled: list[bool]) -> str:
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        cancelled.append(True)
        raise
    return "late"


async def test_the_hook_cancels_the_work() -> None:
    hook = Hook()
    scope = {"extensions": {extensions.DISCONNECT_HOOK: hook}}
    cancelled: list[bool] = []
    asyncio.get_running_loop().call_later(0.05, hook.leave)
    result = await watched(scope, never_disconnects, slow(cancelled))
    assert result == (True, None)
    assert cancelled == [True]


async def test_receive_cancels_the_work_without_the_hook() -> None:
    cancelled: list[bool] = []
    result = await watched({}, receive_disconnect_after(0.05), slow(cancelled))
    assert result == (True, None)
    assert cancelled == [True]


async def test_finished_work_returns_and_lets_go_of_the_hook() -> None:
    hook = Hook()
    scope = {"extensions": {extensions.DISCONNECT_HOOK: hook}}

    async def quick() -> str:
        return "answer"

    assert await watched(scope, never_disconnects, quick()) == (False, "answer")
    assert hook.callbacks == []


async def test_a_cancellation_from_elsewhere_is_not_taken_for_a_disconnect() -> None:
    hook = Hook()
    scope = {"extensions": {extensions.DISCONNECT_HOOK: hook}}
    cancelled: list[bool] = []
    task = asyncio.ensure_future(watched(scope, never_disconnects, slow(cancelled)))
    await asyncio.sleep(0.05)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the outer cancellation was swallowed")
    assert cancelled == [True]
