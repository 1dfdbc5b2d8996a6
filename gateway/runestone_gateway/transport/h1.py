"""A lean HTTP/1.1 client for upstream calls: kept-alive connections per origin, httptools
parsing, one write per request, bodies streamed with flow control.

General clients (aiohttp, httpx) spend 200-300 µs of CPU per request on things this path never
uses (cookie jars, redirects, multipart, tracing hooks, a body-writer task per request); the
gateway makes one such call per client request, so that cost was most of its overhead. This
client does only what the providers need: POST/GET with bytes in, a status, headers and a body
(whole or as chunks) out, over plain TCP or TLS. Time limits cost no timer per request:
`Pool.request(answer_within=…)` bounds the whole answer through one watchdog per connection, and
`Response.limit_silence` the waits of a streamed body through one watchdog per stream, armed the
first time a reader has to wait. A caller may also cancel (e.g. by `asyncio.timeout`): a
cancelled request closes its connection, which is how the upstream learns of it.

Errors: `TimeoutError` from a time limit, `ConnectError` when nothing answered, `ProtocolError`
for an answer that broke off or is not HTTP."""

from __future__ import annotations

import asyncio
import collections
import ssl
import urllib.parse
import zlib
from typing import cast

import httptools

from runestone_gateway.transport import inactivity

HIGH_WATER = 256 * 1024  # stop reading from the socket while this much body waits unread
IDLE_SECONDS = 30.0  # a kept-alive connection unused this long is closed
KEPT_HEADERS = frozenset(
    (b"content-type", b"content-encoding", b"content-length", b"transfer-encoding")
)
"""The answer's headers kept in `Response.headers`: what the body is and how it is framed. A
provider's answer carries a score of others (rate-limit state, tracing, cookies) that nobody
reads; they are not kept."""


class ConnectError(OSError):
    """The connection could not be made, or was lost before any answer arrived."""


class ProtocolError(Exception):
    """The answer broke off, or is not the HTTP it claims to be."""


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; serves one request at a time."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._idle_timer: inactivity.Inactivity | None = None
        self._parked_at: float | None = None  # loop time it went back to the pool; None in use
        self._response: Response | None = None  # the answer still arriving
        self._due_timer: inactivity.Inactivity | None = None
        self._due_since: float | None = None  # loop time the request with a time limit began
        self._header_name = b""

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.forget(self)
        response, self._response = self._response, None
        if response is None:
            return
        if not response.has_head:
            response.fail(ConnectError("the upstream closed the connection without answering"))
        elif response.delimited_by_close:
            response.finish(keep_alive=False)
        else:
            response.fail(ProtocolError("the answer broke off"))

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._broken("an upgrade the gateway did not ask for")
        except httptools.HttpParserError as error:
            self._broken(f"not HTTP: {error}")

    def pause_writing(self) -> None:  # bodies are small; nothing to pause
        pass

    def resume_writing(self) -> None:
        pass

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in KEPT_HEADERS and self._response is not None:
            self._response.headers[name.decode("latin-1")] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        response = self._response
        if response is not None:
            response.status = self._parser.get_status_code()
            response.started()

    def on_body(self, body: bytes) -> None:
        if self._response is not None:
            self._response.feed(body)

    def on_message_complete(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.finish(keep_alive=self._parser.should_keep_alive())

    # used by Pool and Response
    def send(
        self, data: bytes, response: Response, began: float, within: float | None = None
    ) -> None:
        """Write a request; with `within`, its whole answer must arrive by `began + within`."""
        assert self.transport is not None
        self._parked_at = None
        self._response = response
        if within is not None:
            self._due_since = began
            timer = self._due_timer
            if timer is None or timer.seconds > within:  # a shorter limit must look sooner
                if timer is not None:
                    timer.cancel()
                self._due_timer = inactivity.Inactivity(
                    self._loop, within, self._arriving_since, self._late
                )
            else:
                timer.seconds = within
        self.transport.write(data)

    def lift_deadline(self) -> None:
        self._due_since = None

    def _arriving_since(self) -> float | None:
        return self._due_since if self._response is not None else None

    def _late(self) -> None:
        self._due_timer = None
        if self._response is not None:
            self._response.fail(TimeoutError("the upstream did not answer in time"))

    def park(self) -> None:
        """Idle in the pool; closed if nobody uses it for IDLE_SECONDS."""
        self._parked_at = self._loop.time()
        if self._idle_timer is None:
            self._idle_timer = inactivity.Inactivity(
                self._loop, IDLE_SECONDS, lambda: self._parked_at, self.close
            )

    def pause(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def close(self) -> None:
        for timer in (self._idle_timer, self._due_timer):
            if timer is not None:
                timer.cancel()
        self._idle_timer = self._due_timer = None
        self.closed = True
        self._pool.forget(self)
        if self.transport is not None:
            self.transport.close()

    def _broken(self, detail: str) -> None:
        if self._response is not None:
            self._response.fail(ProtocolError(detail))
        self.close()


class Response:
    """An answer as it arrives: `status` and `headers` (those of KEPT_HEADERS) once
    `Pool.request` returns, the body by `read()` or `next_chunk()`. Always `release()` (keeps
    the connection) or `close()`."""

    def __init__(self, connection: _Connection) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self._connection: _Connection | None = connection
        self._loop = connection._loop
        self._head: asyncio.Future[None] = self._loop.create_future()
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._complete = False
        self._keep_alive = False
        self._paused = False
        self._decoder: zlib._Decompress | None = None
        self._silence = 0.0
        self._heard = 0.0  # loop time a reader began its current wait (data arriving ends it)
        self._timer: inactivity.Inactivity | None = None
        """The silence watchdog of a streamed body, once a reader has had to wait."""

    # fed by the connection
    def started(self) -> None:
        encoding = self.headers.get("content-encoding", "identity").lower()
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        elif encoding != "identity":
            self.fail(ProtocolError(f"unsupported content-encoding {encoding!r}"))
            return
        if not self._head.done():
            self._head.set_result(None)

    def feed(self, data: bytes) -> None:
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data)
            except zlib.error:
                self.fail(ProtocolError("a compressed body that does not decompress"))
                return
        if data:
            self._chunks.append(data)
            self._buffered += len(data)
            if self._buffered > HIGH_WATER and not self._paused and self._connection:
                self._paused = True
                self._connection.pause()
            self._wake()

    def finish(self, keep_alive: bool) -> None:
        self._complete = True
        self._keep_alive = keep_alive
        self._stop_timer()
        self._wake()

    def fail(self, error: BaseException) -> None:
        if self._complete or self._error is not None:
            return
        self._error = error
        self._stop_timer()
        if not self._head.done():
            self._head.set_exception(error)
            self._head.exception()  # retrieved: a caller that gave up must not log it
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def has_head(self) -> bool:
        return self._head.done() and self._error is None

    @property
    def delimited_by_close(self) -> bool:
        """A body without length or chunking ends when the connection does (RFC 9112 6.3)."""
        return "content-length" not in self.headers and "transfer-encoding" not in self.headers

    def _silent_since(self) -> float | None:
        """Since when a reader has waited with nothing arriving; None while no reader waits
        (it is busy with the last piece): a slow consumer is not a silent upstream."""
        return self._heard if self._waiter is not None else None

    def _silent_too_long(self) -> None:
        self._timer = None
        self.fail(TimeoutError(f"no data from the upstream for {self._silence:g} s"))

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # used by Pool and callers
    def head(self) -> asyncio.Future[None]:
        """Done when the status line and headers have arrived."""
        return self._head

    def limit_silence(self, seconds: float) -> None:
        """From now on (instead of any deadline), `next_chunk` raises TimeoutError once it has
        waited `seconds` without any of the body arriving. One timer for the whole body, not
        one per wait (a stream of many small pieces would otherwise set and cancel one each),
        armed when a reader first has to wait: not before the first event is relayed."""
        if self._connection is not None:
            self._connection.lift_deadline()
        self._silence = seconds

    async def next_chunk(self) -> bytes | None:
        """All of the body that has arrived since the last call (waiting for some if none
        has), or None at its end. A relay makes one write of what came in together."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._complete:
                return None
            if self._silence:
                self._heard = self._loop.time()
                if self._timer is None:
                    self._timer = inactivity.Inactivity(
                        self._loop, self._silence, self._silent_since, self._silent_too_long
                    )
            self._waiter = self._loop.create_future()
            await self._waiter
        chunks = self._chunks
        chunk = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._paused and self._connection:
            self._paused = False
            self._connection.resume()
        return chunk

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body (or its first `limit` bytes)."""
        parts: list[bytes] = []
        size = 0
        while limit is None or size < limit:
            chunk = await self.next_chunk()
            if chunk is None:
                break
            parts.append(chunk)
            size += len(chunk)
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        return body if limit is None else body[:limit]

    def release(self) -> None:
        """Done with the answer: a connection that finished it cleanly goes back to the pool."""
        self._stop_timer()
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._complete and self._keep_alive and not self._chunks and not connection.closed:
            connection._pool.give_back(connection)
        else:
            connection.close()

    def close(self) -> None:
        """Abandon the answer and its connection (the upstream sees the request cancelled)."""
        self._stop_timer()
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class Pool:
    """Kept-alive connections to the origin of `base_url`, with headers sent on every request."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        url = urllib.parse.urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path.rstrip("/")
        self._ssl = ssl.create_default_context() if url.scheme == "https" else None
        default_port = self.port == (443 if url.scheme == "https" else 80)
        netloc = self.host if ":" not in self.host else f"[{self.host}]"
        authority = netloc if default_port else f"{netloc}:{self.port}"
        lines = [f"host: {authority}", *(f"{name}: {value}" for name, value in headers.items())]
        self._common = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._closed = False

    def path(self, suffix: str) -> str:
        return self.prefix + suffix

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: bytes = b"",
        answer_within: float | None = None,
    ) -> Response:
        """Send a request and wait for the status line and headers. `headers` are extra lines,
        each ending in CRLF. With `answer_within`, the connection, the head and the body must
        all have arrived within that many seconds: one timer on the answer instead of a
        timeout scope around the call. Raises ConnectError, ProtocolError or TimeoutError."""
        if self._closed:
            raise ConnectError("the client is closed")
        loop = asyncio.get_running_loop()
        began = loop.time()
        connection = self._take()
        if connection is None:
            if answer_within is None:
                connection = await self._connect()
            else:
                async with asyncio.timeout_at(began + answer_within):
                    connection = await self._connect()
        response = Response(connection)
        data = b"".join(
            (
                f"{method} {path} HTTP/1.1\r\n".encode("latin-1"),
                self._common,
                headers,
                b"content-length: %d\r\n\r\n" % len(body) if body or method == "POST" else b"\r\n",
                body,
            )
        )
        connection.send(data, response, began, answer_within)
        try:
            await response.head()
        except BaseException:
            response.close()
            raise
        return response

    def _take(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self), self.host, self.port, ssl=self._ssl
            )
        except ssl.SSLError as error:
            raise ConnectError(f"TLS handshake failed: {error.reason}") from None
        except OSError as error:
            if isinstance(error, TimeoutError):
                raise
            raise ConnectError(f"cannot connect: {error.strerror or error}") from None
        self._open.add(connection)
        return connection

    def give_back(self, connection: _Connection) -> None:
        if self._closed:
            connection.close()
            return
        connection.park()
        self._idle.append(connection)

    def forget(self, connection: _Connection) -> None:
        self._open.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)

    async def close(self) -> None:
        self._closed = True
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
