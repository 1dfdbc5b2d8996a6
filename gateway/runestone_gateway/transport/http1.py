"""The API port's HTTP/1.1 server protocol: llhttp (through httptools) parses, this module frames
answers and runs one ASGI request at a time per connection. It plugs into uvicorn's server as
`uvicorn.Config(http=Protocol)`, so sockets, TLS, lifespan and graceful shutdown stay uvicorn's.

Why not uvicorn's own protocol: at one request at a time, each step of the request path costs far
more than on a busy process, and uvicorn's path (a scope with a copied state, a cycle object and
an Event per request, the proxy-headers wrapper, head and body written separately) was 0.2 ms of
the gateway's added latency in bench/gateway_overhead.py. This one keeps only what the gateway
needs: the head goes out with the first body bytes in one write (with the length computed when
the app gives none), a request's disconnect can be a callback (`DISCONNECT_HOOK`) instead of a
task listening on `receive`, and the app can tell a body that came whole (`BODY_ARRIVED`) from
one it must wait for.

What it guards: header names and values checked before they are written, a head larger than
MAX_HEAD_BYTES answered 431, an unparsable request (or request target) answered 400 after the
answers before it, a body whose framing breaks answered 400 by the app (`receive()` raises
`extensions.BrokenBody`), reading paused while a body waits unread or a pipelined request waits
its turn, writes paused by the transport awaited, an idle connection (or one that has not sent a
whole head) closed after the keep-alive timeout. Its own answers are in the API's error envelope
(`refusals`)."""

from __future__ import annotations

import asyncio
import http
import logging
import urllib.parse
from collections import deque
from collections.abc import Callable, MutableMapping
from typing import Any

import httptools

from runestone_gateway.transport import extensions, inactivity, refusals

log = logging.getLogger("runestone.gateway")

Message = MutableMapping[str, Any]
App = Callable[[Message, Any, Any], Any]

DISCONNECT_HOOK = extensions.DISCONNECT_HOOK  # bound once: each request's scope names them
BODY_ARRIVED = extensions.BODY_ARRIVED

MAX_HEAD_BYTES = 64 * 1024
BODY_HIGH_WATER = 64 * 1024
"""Unread request body above which reading pauses until the app asks for more."""

_STATUS_LINES = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode())
    for status in http.HTTPStatus
}
_TOKEN_CHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
"""What a header name may be made of (RFC 9110 5.6.2)."""
_DISCONNECT: Message = {"type": "http.disconnect"}
_NO_BODY_STATUSES = frozenset({204, 304})


_HEAD_TOO_LARGE = refusals.head_too_large(MAX_HEAD_BYTES)


class _HeadTooLarge(Exception):
    pass


class _BadTarget(Exception):
    pass


class Exchange:
    """One request and its answer on a connection."""

    __slots__ = (
        "_callbacks",
        "_chunked",
        "_connection",
        "_headers",
        "_remaining",
        "_status",
        "_waiter",
        "body",
        "broken",
        "delivered",
        "done",
        "expect_continue",
        "gone",
        "keep_alive",
        "more_body",
        "scope",
        "started",
        "wrote_head",
    )

    def __init__(
        self, connection: Protocol, scope: Message, keep_alive: bool, expect_continue: bool
    ) -> None:
        self._connection = connection
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.body: list[bytes] = []
        self.more_body = True
        self.delivered = False  # the last of the body has been handed to the app
        self.started = False
        self.wrote_head = False
        self.done = False
        self.gone = False
        self.broken = False  # the body's framing broke: receive() raises, the connection closes
        self._status = 200
        self._headers: Any = ()
        self._chunked = False
        self._remaining: int | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._callbacks: list[Callable[[], None]] = []

    # -- events from the connection
    def wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def body_arrived(self) -> bool:
        return not self.more_body

    def break_body(self) -> None:
        self.broken = True
        self.keep_alive = False
        self.wake()

    def disconnected(self) -> None:
        if self.done or self.gone:
            return
        self.gone = True
        self.wake()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_disconnect(self, callback: Callable[[], None]) -> Callable[[], None]:
        if self.gone:
            callback()
        else:
            self._callbacks.append(callback)

        def forget() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return forget

    # -- the ASGI side
    async def receive(self) -> Message:
        connection = self._connection
        if self.expect_continue:
            self.expect_continue = False
            if not self.started:
                connection.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while (
            not self.body
            and (self.more_body or self.delivered)
            and not (self.gone or self.done or self.broken)
        ):
            connection.resume_reading()
            self._waiter = connection.loop.create_future()
            await self._waiter
        if self.gone or self.done:
            return _DISCONNECT
        if self.broken:
            raise extensions.BrokenBody
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        self.body.clear()
        self.delivered = not self.more_body
        connection.resume_reading()
        return {"type": "http.request", "body": body, "more_body": self.more_body}

    async def send(self, message: Message) -> None:
        connection = self._connection
        if connection.write_paused and not self.gone:
            await connection.drain()
        if self.gone:
            return
        kind = message["type"]
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"expected http.response.start, got {kind!r}")
            self.started = True
            self._status = message["status"]
            self._headers = message.get("headers", ())
            return
        if self.done or kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        body: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        if self.scope["method"] == "HEAD":
            body = b""
        if not self.wrote_head:
            head = self._head(len(body), more_body)
            self.wrote_head = True
            data = head + self._frame(body)
        else:
            data = self._frame(body)
        if not more_body and self._chunked:
            data += b"0\r\n\r\n"
        if self._remaining is not None:
            self._remaining -= len(body)
            if self._remaining < 0 or (not more_body and self._remaining > 0):
                connection.transport.close()
                raise RuntimeError("the answer's body does not match its content-length")
        if data:
            connection.write(data)
        if not more_body:
            self.done = True
            self.wake()
            connection.answered(self)

    def _frame(self, body: bytes) -> bytes:
        if self._chunked and body:
            return b"%x\r\n%s\r\n" % (len(body), body)
        return body

    def _head(self, first_length: int, more_body: bool) -> bytes:
        status = self._status
        lines = [_STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status]
        length: int | None = None
        chunked = False
        closing = False
        headers = self._headers
        # Checked for all the headers together: every name a non-empty token (deleting the
        # token characters from all names leaves nothing), no CR, LF or NUL in any value.
        if headers:
            names = [name for name, _ in headers]
            values = b"".join([value for _, value in headers])
            if (
                b"" in names
                or b"".join(names).translate(None, _TOKEN_CHARS)
                or b"\r" in values
                or b"\n" in values
                or b"\0" in values
            ):
                raise RuntimeError("invalid header in the answer")
        for name, value in headers:
            name = name.lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection" and b"close" in value.lower():
                self.keep_alive = False
                closing = True
            lines += (name, b": ", value, b"\r\n")
        for name, value in self._connection.server_state.default_headers:  # date
            lines += (name, b": ", value, b"\r\n")
        bodiless = status in _NO_BODY_STATUSES or 100 <= status < 200
        if length is None and not chunked and not bodiless and self.scope["method"] != "HEAD":
            if more_body:
                chunked = True
                lines.append(b"transfer-encoding: chunked\r\n")
            else:
                length = first_length
                lines.append(b"content-length: %d\r\n" % length)
        if not self.keep_alive and not closing:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        self._chunked = chunked
        self._remaining = length if self.scope["method"] != "HEAD" else None
        return b"".join(lines)

    async def run(self, app: App) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except asyncio.CancelledError:
            self._connection.transport.close()  # cancelled by the shutdown deadline
            return
        except Exception:
            log.exception("unexpected error in the API app")
            self._fail()
            return
        finally:
            # The hooks are this exchange's bound methods: left in its scope they would make
            # the exchange, its scope and its headers a cycle that only the collector frees,
            # and a collector pass every few dozen requests.
            self.scope.pop("extensions", None)
        if not self.done and not self.gone:
            log.error("the API app returned without completing its answer")
            self._fail()

    def _fail(self) -> None:
        connection = self._connection
        if not self.wrote_head and not self.gone:
            self.keep_alive = False
            connection.write(
                refusals.answer(500, refusals.FAILED, connection.server_state.default_headers)
            )
            self.done = True
        connection.transport.close()


class Protocol(asyncio.Protocol):
    """One client connection; constructed by uvicorn's server for each accepted socket."""

    def __init__(
        self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None
    ) -> None:
        self.loop = _loop or asyncio.get_running_loop()
        self.app: App = config.loaded_app
        self.keep_alive_seconds: float = config.timeout_keep_alive
        self.server_state = server_state
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.write_paused = False
        self._writable: asyncio.Future[None] | None = None
        self._read_paused = False
        self._parser = httptools.HttpRequestParser(self)
        self._parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self._scope_base: dict[str, Any] = {}
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._expect_continue = False
        self._parsing: Exchange | None = None
        self._active: Exchange | None = None
        self._queued: deque[Exchange] = deque()
        self._idle_runner: asyncio.Future[Exchange | None] | None = None
        """What the connection's task, idle between requests, waits on (`_run`)."""
        self._idle_timer: inactivity.Inactivity | None = None
        self._idle_since: float | None = None  # loop time; None while a request is in hand
        self._closing = False
        self._refusal: bytes | None = None
        """An answer to a request the parser refused, sent once the answers before it are."""

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server_state.connections.add(self)
        tls = transport.get_extra_info("sslcontext") is not None
        self._scope_base = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "scheme": "https" if tls else "http",
            "server": _address(transport.get_extra_info("sockname")),
            "client": _address(transport.get_extra_info("peername")),
            "root_path": "",
        }
        # Closes the connection once idle (or short of a whole head) for the keep-alive timeout.
        self._idle_since = self.loop.time()
        self._idle_timer = inactivity.Inactivity(
            self.loop, self.keep_alive_seconds, self._idle_moment, self._idle
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self._closing = True
        self._cancel_idle_timer()
        if self._active is not None:
            self._active.disconnected()
        for exchange in self._queued:
            exchange.disconnected()
        self._queued.clear()
        self._hand_to_idle_runner(None)  # it ends
        self.resume_writing()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Upgrades are not offered: the request is answered, then the connection closes.
            self._closing = True
            self.pause_reading()
            if self._parsing is not None:
                self._parsing.keep_alive = False
        except httptools.HttpParserCallbackError as error:
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(431, _HEAD_TOO_LARGE)
            elif isinstance(error.__context__, _BadTarget):
                # A client's mistake, not the gateway's: one line, and never the target itself
                # (it could carry a key).
                client = self._scope_base.get("client") or ("an unknown address",)
                log.warning("refused a request from %s: its target cannot be parsed", client[0])
                self._refuse(400, refusals.BAD_TARGET)
            else:
                log.exception("cannot take a request apart")
                self._refuse(400, refusals.NOT_HTTP)
        except httptools.HttpParserError:
            self._refuse(400, refusals.NOT_HTTP)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._expect_continue = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _HeadTooLarge
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._idle_since = None
        parser = self._parser
        target = self._url
        if target[:1] == b"/" and b"?" not in target and b"#" not in target:
            raw_path, query = target, b""  # the usual request target: a bare path
        else:
            try:
                url = httptools.parse_url(target)
            except httptools.HttpParserInvalidURLError:
                raise _BadTarget from None
            raw_path, query = url.path, url.query or b""
        path = raw_path.decode("latin-1")
        version = parser.get_http_version()
        scope = {
            **self._scope_base,
            "http_version": version,
            "method": parser.get_method().decode("ascii"),
            "path": urllib.parse.unquote(path) if "%" in path else path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self._headers,
        }
        keep_alive = version != "1.0" and parser.should_keep_alive()
        exchange = Exchange(self, scope, keep_alive, self._expect_continue)
        scope["extensions"] = {
            DISCONNECT_HOOK: exchange.on_disconnect,
            BODY_ARRIVED: exchange.body_arrived,
        }
        self._parsing = exchange
        if self._active is None:
            self._start(exchange)
        else:  # pipelined: answered in order, once the one before is done
            self._queued.append(exchange)
            self.pause_reading()

    def on_body(self, body: bytes) -> None:
        exchange = self._parsing
        if exchange is None or exchange.done:
            return
        exchange.body.append(body)
        if sum(map(len, exchange.body)) > BODY_HIGH_WATER:
            self.pause_reading()
        exchange.wake()

    def on_message_complete(self) -> None:
        exchange = self._parsing
        if exchange is not None:
            exchange.more_body = False
            exchange.wake()

    # -- used by Exchange and by uvicorn's server
    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        if self.write_paused and not self.transport.is_closing():
            self._writable = self._writable or self.loop.create_future()
            await self._writable

    def answered(self, exchange: Exchange) -> None:
        self.server_state.total_requests += 1
        self._active = None
        if not exchange.keep_alive or self.transport.is_closing():
            if self._refusal is not None:
                self.write(self._refusal)
                self._refusal = None
            self._closing = True
            self.transport.close()
            return
        if self._queued:
            self._start(self._queued.popleft())
        else:
            self._idle_since = self.loop.time()
        self.resume_reading()

    def shutdown(self) -> None:
        """Graceful shutdown: close when idle, else after the answer in progress."""
        if self._active is None:
            self._closing = True
            self.transport.close()
        else:
            self._active.keep_alive = False
            self._queued.clear()

    def pause_reading(self) -> None:
        if not self._read_paused:
            self._read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._read_paused and not self._closing and not self._queued:
            self._read_paused = False
            self.transport.resume_reading()

    # -- internals
    def _start(self, exchange: Exchange) -> None:
        self._active = exchange
        if self._hand_to_idle_runner(exchange):
            return
        task = self.loop.create_task(self._run(exchange))
        tasks = self.server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _run(self, exchange: Exchange | None) -> None:
        """Run the app for `exchange`, then wait, idle, for the connection's next request.

        One task per connection rather than one per request: creating, registering and
        retiring a task was some 20 µs of a request's path at one request at a time. A request
        that arrives while the app is still finishing the one before (after its answer went
        out) gets a task of its own; of the tasks that finish, one stays as the idle runner."""
        while exchange is not None:
            await exchange.run(self.app)
            if self._closing or self._idle_runner is not None:
                return
            self._idle_runner = idle = self.loop.create_future()
            exchange = await idle

    def _hand_to_idle_runner(self, exchange: Exchange | None) -> bool:
        """Wake the connection's idle task with its next exchange (None: the connection is
        gone); False if no task is idle."""
        idle, self._idle_runner = self._idle_runner, None
        if idle is None or idle.done():
            return False
        idle.set_result(exchange)
        return True

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise _HeadTooLarge

    def _refuse(self, status: int, body: bytes) -> None:
        """The parser cannot go on: nothing more is read. A request whose body broke is its
        app's to answer (400); any other refusal is answered after the answers before it, and
        the connection closes after that."""
        self._closing = True
        self.pause_reading()
        parsing = self._parsing
        if parsing is not None and parsing.more_body:  # the body of a request broke
            if parsing.done:  # answered already (before its body was read)
                self.transport.close()
            else:
                parsing.break_body()
            return
        answer = refusals.answer(status, body, self.server_state.default_headers)
        last = self._queued[-1] if self._queued else self._active
        if last is None:
            self.write(answer)
            self.transport.close()
        else:
            last.keep_alive = False
            self._refusal = answer

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle_moment(self) -> float | None:
        return self._idle_since if self._active is None else None

    def _idle(self) -> None:
        self._idle_timer = None
        if not self.transport.is_closing():
            self._closing = True
            self.transport.close()


def _address(value: Any) -> tuple[str, int] | None:
    if isinstance(value, tuple) and len(value) >= 2:
        return str(value[0]), int(value[1])
    return None
