"""Small ASGI building blocks: sending JSON and errors, and running work that is cancelled when
the client goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from runestone_gateway import errors
from runestone_gateway.transport import extensions

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # tell nginx-style proxies not to buffer the stream
]


class ClientGone(Exception):
    """The client disconnected before its request was read."""


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def send_json(
    send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    # A declared length spares the server chunked framing and the client its decoding.
    length = (b"content-length", b"%d" % len(body))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*JSON_HEADERS, length, *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send,
    error: errors.GatewayError,
    headers: Sequence[tuple[bytes, bytes]] = (),
    envelope: Callable[[errors.GatewayError], bytes] = errors.GatewayError.body,
) -> None:
    """The error in the OpenAI envelope, or in the one `envelope` renders."""
    await send_json(send, error.status, envelope(error), [*error.headers, *headers])


class CancelOnDisconnect:
    """`with CancelOnDisconnect(scope, receive) as watch:` cancels the block's work when the
    client goes away (which closes any upstream connection the work holds); that cancellation
    ends with the block, and `watch.gone` says it happened. A cancellation from elsewhere
    (shutdown, a deadline) goes on as usual.

    A context manager rather than a wrapper coroutine: the block runs in the calling task,
    with no extra coroutine and closure per request. Under the gateway's own HTTP server the
    disconnect comes as a callback (extensions.DISCONNECT_HOOK); under any other ASGI server a
    listener task waits on `receive` for it."""

    __slots__ = ("_receive", "_scope", "_stop", "_task", "gone")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self._scope = scope
        self._receive = receive
        self._task: asyncio.Task[Any] | None = None
        self._stop: Callable[[], object] | None = None
        self.gone = False

    def __enter__(self) -> CancelOnDisconnect:
        self._task = asyncio.current_task()
        assert self._task is not None, "used outside a task"
        offered = self._scope.get("extensions")
        hook = offered.get(extensions.DISCONNECT_HOOK) if offered else None
        if hook is not None:
            self._stop = hook(self._cancel)
        else:
            self._stop = asyncio.ensure_future(self._listen()).cancel
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: Any
    ) -> bool:
        if self._stop is not None:
            self._stop()
            self._stop = None
        # Ours only if the client left and nobody else cancelled the request too.
        return (
            kind is asyncio.CancelledError
            and self.gone
            and self._task is not None
            and self._task.uncancel() == 0
        )

    def _cancel(self) -> None:
        self.gone = True
        if self._task is not None:
            self._task.cancel()

    async def _listen(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._cancel()
