"""Small ASGI building blocks: reading a bounded body, sending JSON and errors, and running work
that is cancelled when the client goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any, TypeVar

from runestone_gateway import errors, http1

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

T = TypeVar("T")

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


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, or 413 as soon as it is known to be larger than `limit`."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise errors.body_too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_json(
    send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()
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


async def send_error(send: Send, error: errors.GatewayError) -> None:
    await send_json(send, error.status, error.body(), error.headers)


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(
    scope: Scope, receive: Receive, work: Coroutine[Any, Any, T]
) -> tuple[bool, T | None]:
    """Run `work` while listening for the client to disconnect; if it does, cancel the work
    (which closes any upstream connection the work holds). Returns (completed, result).

    The work runs in the calling task. Under the gateway's own HTTP server the disconnect comes
    as a callback (http1.DISCONNECT_HOOK); under any other ASGI server a listener task waits on
    `receive` for it."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    def cancel() -> None:
        nonlocal gone
        gone = True
        task.cancel()

    hook = scope.get("extensions", {}).get(http1.DISCONNECT_HOOK)
    if hook is not None:
        stop: Callable[[], object] = hook(cancel)
    else:

        async def listen() -> None:
            await _disconnect(receive)
            cancel()

        listener = asyncio.ensure_future(listen())
        stop = listener.cancel
    try:
        result = await work
    except asyncio.CancelledError:
        # Ours only if the client left and nobody else cancelled the request too.
        if gone and task.uncancel() == 0:
            return False, None
        raise
    finally:
        stop()
    return True, result
