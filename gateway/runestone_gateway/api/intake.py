"""Request bodies, read within bounds: no larger than `server.maxBodyBytes` (413); arriving in time
(408: nothing for `bodyTimeoutSeconds`, or after that long less than `bodyMinBytesPerSecond` on
average); and no more bytes held, over all the bodies a process is still receiving, than
`server.maxBufferedBodyBytes` (503 with Retry-After). A 408 or 503 closes the connection: the
rest of that body is never read.

Most bodies come with their head, and the first `receive()` returns them whole without waiting.
A body still arriving after that is `Arriving`: the app takes the key's limits before it reads
on (so an upload that stalls holds its own key's slot and nobody else's), then `rest()` reads
it, counting every byte held against the process's bound.

Time is kept by one watchdog per process rather than a timer per request: a request waiting in
`receive()` is registered with when its body started (and, once arriving, how much has come
and when it last moved); while any are registered the watchdog looks every TICK_SECONDS and
cancels the task of one that is late, a cancellation that ends here as the 408. Under the
gateway's own HTTP protocol a body that came whole is known to (`extensions.BODY_ARRIVED`) and
read without registering: the common path costs a lookup and a call."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from runestone_gateway import config, errors
from runestone_gateway.api import asgi
from runestone_gateway.telemetry import metrics
from runestone_gateway.transport import extensions

TICK_SECONDS = 0.25
STALLED, TOO_SLOW, OVERLOADED = metrics.BODY_REJECTIONS


class Intake:
    """The request bodies of one process: its watchdog and the bytes it holds."""

    def __init__(self, meters: metrics.Metrics) -> None:
        self._metrics = meters
        self._waiting: dict[asyncio.Task[Any], float | Progress] = {}
        """Requests in `receive()`: when their body started, or, arriving, the body."""
        self._late: dict[asyncio.Task[Any], str] = {}
        """Requests the watchdog has cancelled, and why."""
        self._server = config.Server()
        """The settings of the latest request (the watchdog applies them to all)."""
        self._timer: asyncio.TimerHandle | None = None
        self.buffered = 0
        """Bytes held by bodies still arriving."""

    async def read(
        self, scope: asgi.Scope, receive: asgi.Receive, server: config.Server
    ) -> bytes | Arriving:
        """The whole body (bytes) if it came with the head, else the body as `Arriving`: take
        the key's limits, then call its `rest()`."""
        limit = server.max_body_bytes
        declared = asgi.header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise errors.body_too_large(limit)
        offered = scope.get("extensions")
        arrived = offered.get(extensions.BODY_ARRIVED) if offered else None
        if arrived is not None and arrived():
            message = await receive()  # does not wait
            started = 0.0
        else:
            started = time.monotonic()
            message = await self._waited(receive, started, server)
        if message["type"] == "http.disconnect":
            raise asgi.ClientGone
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise errors.body_too_large(limit)
        if not message.get("more_body", False):
            return body
        # Refused before the key is even admitted when the declared body cannot be held.
        expected = int(declared) if declared is not None and declared.isdigit() else len(body)
        if self.buffered + expected > server.buffered_body_limit:
            raise self._overloaded()
        return Arriving(self, receive, server, started, body)

    def watched(self, receive: asgi.Receive, server: config.Server) -> asgi.Receive:
        """`receive` for an app that reads a body itself as it streams (an upload to
        `/v1/files`): each wait is under the watchdog, with the same deadline and minimum rate
        as any body. Nothing is counted as held: such an app stores the body as it comes."""
        progress = Progress(time.monotonic(), 0)

        async def receive_watched() -> asgi.Message:
            message = await self._waited(receive, progress, server)
            chunk = message.get("body")
            if chunk:
                progress.received += len(chunk)
                progress.moved = time.monotonic()
            return message

        return receive_watched

    async def next_message(self, body: Arriving) -> asgi.Message:
        """The next message of a body still arriving, under the watchdog."""
        message = await self._waited(body.receive, body, body.server)
        if message["type"] == "http.disconnect":
            raise asgi.ClientGone
        return message

    async def _waited(
        self, receive: asgi.Receive, entry: float | Progress, server: config.Server
    ) -> asgi.Message:
        """`receive()` under the watchdog, which knows the body by `entry`: when it started, or
        the body arriving."""
        self._server = server
        task = asyncio.current_task()
        assert task is not None, "read outside a task"
        self._waiting[task] = entry
        if self._timer is None:
            self._watch()
        try:
            return await receive()
        except (asyncio.CancelledError, extensions.BrokenBody) as error:
            raise self._failure(task, error) from None
        finally:
            del self._waiting[task]

    def hold(self, size: int, server: config.Server) -> None:
        """Count `size` more bytes held, or 503 if the process may not hold them."""
        if self.buffered + size > server.buffered_body_limit:
            raise self._overloaded()
        self.buffered += size
        self._metrics.body_buffered.inc(size)

    def release(self, size: int) -> None:
        self.buffered -= size
        self._metrics.body_buffered.dec(size)

    def _failure(self, task: asyncio.Task[Any], error: BaseException) -> BaseException:
        if isinstance(error, extensions.BrokenBody):
            return errors.broken_body()
        reason = self._late.pop(task, None)
        if reason is None or task.uncancel() > 0:
            return error  # a cancellation from elsewhere (shutdown) goes on
        self._metrics.body_rejections.labels(reason).inc()
        server = self._server
        if reason == STALLED:
            return errors.request_timeout(
                f"nothing arrived for {server.body_timeout_seconds:g} seconds"
            )
        return errors.request_timeout(
            f"it arrived slower than {server.body_min_bytes_per_second} bytes per second"
        )

    def _overloaded(self) -> errors.GatewayError:
        self._metrics.body_rejections.labels(OVERLOADED).inc()
        return errors.overloaded()

    def _watch(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(TICK_SECONDS, self._check)

    def _check(self) -> None:
        """Cancel the requests whose bodies are late; look again while any are waiting."""
        self._timer = None
        if not self._waiting:
            return
        now = time.monotonic()
        timeout = self._server.body_timeout_seconds
        rate = self._server.body_min_bytes_per_second
        for task, entry in self._waiting.items():
            if isinstance(entry, float):
                started = moved = entry
                received = 0
            else:
                started, moved, received = entry.started, entry.moved, entry.received
            if now - moved >= timeout:
                reason = STALLED
            elif rate and now - started >= timeout and received < rate * (now - started):
                reason = TOO_SLOW
            else:
                continue
            if task not in self._late:
                self._late[task] = reason
                task.cancel()
        self._watch()


class Progress:
    """How a body still arriving is doing: when it started, when bytes last came, how many."""

    __slots__ = ("moved", "received", "started")

    def __init__(self, started: float, received: int) -> None:
        self.started = started
        self.received = received
        self.moved = time.monotonic()
        """When the last bytes came."""


class Arriving(Progress):
    """A body that did not come whole with its head."""

    __slots__ = ("_first", "_intake", "receive", "server")

    def __init__(
        self,
        intake: Intake,
        receive: asgi.Receive,
        server: config.Server,
        started: float,
        first: bytes,
    ) -> None:
        super().__init__(started, len(first))
        self._intake = intake
        self.receive = receive
        self.server = server
        self._first = first

    async def rest(self) -> bytes:
        """The whole body: what came with the head and the rest, as it arrives."""
        intake, server = self._intake, self.server
        limit = server.max_body_bytes
        chunks = [self._first]
        intake.hold(self.received, server)
        held = self.received
        try:
            while True:
                message = await intake.next_message(self)
                chunk: bytes = message.get("body", b"")
                if chunk:
                    self.received += len(chunk)
                    self.moved = time.monotonic()
                    if self.received > limit:
                        raise errors.body_too_large(limit)
                    intake.hold(len(chunk), server)
                    held += len(chunk)
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        finally:
            intake.release(held)
