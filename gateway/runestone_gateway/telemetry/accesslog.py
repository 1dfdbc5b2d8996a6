"""The access log: one JSON line per API request on stdout, and the per-request record it is
written from (which also feeds the request metrics).

Lines carry the request id (also sent back as `x-request-id`), the key id (never the key, and
key-shaped tokens in the path are redacted), model, provider, status, tokens and timings.
Prompts are logged only when `server.logPrompts` is on. A slow reader of stdout never stalls
requests: lines wait in memory (bounded) until the reader takes them."""

from __future__ import annotations

import asyncio
import atexit
import collections
import logging
import os
import re
import select
import stat
import threading
import time
from typing import Any, Protocol

import orjson

from runestone_gateway import apikeys
from runestone_gateway.failover import routing
from runestone_gateway.providers import base
from runestone_gateway.telemetry import redact

log = logging.getLogger("runestone.gateway.access")

_SANE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9_.:/+=-]{0,127}$")
PIPE_BUF = getattr(select, "PIPE_BUF", 4096)
"""Writes up to this size to a pipe are atomic."""
CLIENT_GONE = 499
"""The status logged for a client that left before any answer (nginx's convention)."""


def request_id(incoming: bytes | None) -> str:
    """The client's `x-request-id` when it is short, plain and not a key; else a new one."""
    if incoming is not None and _SANE_REQUEST_ID.match(incoming):
        text = incoming.decode()
        if not apikeys.looks_like_key(text) and apikeys.PREFIX not in text:
            return text
    return "req_" + os.urandom(12).hex()


class Exchange:
    """What one request did, filled in as it goes."""

    __slots__ = (
        "answered",
        "attempts",
        "error_type",
        "finished",
        "headers",
        "key_id",
        "method",
        "model",
        "operation",
        "path",
        "prompt",
        "request_id",
        "started",
        "status",
        "stream",
        "target",
        "tenant",
        "tokens_estimated",
        "ttft",
        "upstream_seconds",
        "usage",
    )

    def __init__(self, method: str, path: str, request_id: str) -> None:
        self.started = time.perf_counter()
        self.method = method
        self.path = path
        self.request_id = request_id
        self.headers: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        self.status = CLIENT_GONE
        self.key_id = ""
        self.tenant = ""
        self.operation = ""
        self.model = ""
        self.stream = False
        self.target: routing.Target | None = None
        self.attempts: list[tuple[routing.Target, str]] = []
        """Every upstream call made for the request, and its outcome."""
        self.usage: base.Usage | None = None
        self.tokens_estimated = False
        """The usage is the gateway's estimate: the upstream reported none (a stream the
        client left, an upstream that omits usage)."""
        self.ttft: float | None = None
        """Seconds to the first token, for streams."""
        self.upstream_seconds = 0.0
        """Of the time to the answer (or first token), what the upstream took."""
        self.answered: float | None = None
        """perf_counter when the answer was complete, if it was."""
        self.finished = 0.0
        """perf_counter when the request was done with."""
        self.error_type = ""
        self.prompt: str | None = None

    def answering(self, status: int) -> list[tuple[bytes, bytes]]:
        """Note the status the answer goes out with; the headers every answer carries (the
        request id, the key's limits), for its http.response.start."""
        self.status = status
        return self.headers

    @property
    def provider(self) -> str:
        return self.target.provider_name if self.target is not None else ""

    def line(self, duration: float) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": time.time(),
            "request_id": self.request_id,
            "method": self.method,
            "path": redact.text(self.path),
            "status": self.status,
            "key_id": self.key_id or None,
            "tenant": self.tenant or None,
            "operation": self.operation or None,
            "model": self.model or None,
            "provider": self.provider or None,
            "stream": self.stream,
            "input_tokens": self.usage.input_tokens if self.usage else None,
            "output_tokens": self.usage.output_tokens if self.usage else None,
            "tokens_estimated": self.tokens_estimated,
            "cache_read_tokens": self.usage.cache_read_tokens if self.usage else None,
            "cache_write_tokens": self.usage.cache_write_tokens if self.usage else None,
            "duration_ms": round(duration * 1000, 3),
            "ttft_ms": round(self.ttft * 1000, 3) if self.ttft is not None else None,
            "error": self.error_type or None,
        }
        if self.prompt is not None:
            entry["prompt"] = self.prompt
        return entry


class Writer(Protocol):
    def write(self, exchange: Exchange, duration: float) -> None: ...

    def close(self) -> None:
        """Write what has gathered (waiting a few seconds at most for a slow reader), then
        stop."""


FLUSH_SECONDS = 0.05
"""How long a line may wait for others to be written with."""
CLOSE_SECONDS = 5.0
"""How long closing waits for a reader that does not take what is left."""
WARN_SECONDS = 10.0
"""How often, at most, dropped lines are logged."""
SLOW_READER = "the access log's reader is not keeping up"


def open_writer(fd: int, loop: asyncio.AbstractEventLoop) -> Writer:
    """The writer for `fd` (stdout): written from the event loop when the loop can write to it
    without waiting on its reader, else from a thread.

    A pipe or FIFO (a container's stdout) or a terminal is opened again through /proc, giving
    this process a description of its own to make non-blocking (O_NONBLOCK set on the shared
    one would reach every process that writes to it); a regular file takes writes without
    waiting on a reader. Anything else (a socket, a system without /proc) is written from a
    thread, which costs the event loop a hand-off of the GIL for every write it makes."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:  # stdout closed: the thread's writes fail and say so
        return ThreadWriter(fd)
    if stat.S_ISREG(mode):
        return LoopWriter(fd, loop, owned=False)
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        private = _reopen_nonblocking(fd)
        if private is not None:
            return LoopWriter(private, loop, owned=True)
    return ThreadWriter(fd)


def _reopen_nonblocking(fd: int) -> int | None:
    try:
        private = os.open(
            f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        )
    except OSError:
        return None  # no /proc, not permitted, or a FIFO with no reader
    before, after = os.fstat(fd), os.fstat(private)
    if (before.st_dev, before.st_ino) != (after.st_dev, after.st_ino):
        os.close(private)
        return None
    return private


def _batch(lines: collections.deque[bytes]) -> bytes:
    """Lines from the front of `lines`, as many as fit in one atomic pipe write (at least
    one), so the lines of several worker processes sharing one stdout pipe never
    interleave."""
    taken = [lines.popleft()]
    size = len(taken[0])
    while lines and size + len(lines[0]) <= PIPE_BUF:
        line = lines.popleft()
        size += len(line)
        taken.append(line)
    return b"".join(taken)


def _encode(exchange: Exchange, duration: float) -> bytes:
    return orjson.dumps(exchange.line(duration), option=orjson.OPT_APPEND_NEWLINE)


class LoopWriter:
    """Lines written to a non-blocking `fd` (or a regular file) by the event loop.

    A line waits up to FLUSH_SECONDS, or until a pipe write's worth has gathered, and goes out
    with the others. When the reader falls behind and the pipe is full, lines wait in memory
    for it to become writable, up to MAX_PENDING bytes; lines beyond that are dropped and
    counted in a warning rather than held without bound."""

    MAX_PENDING = 8 * 1024 * 1024

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop, *, owned: bool) -> None:
        self._fd = fd
        self._owned = owned
        self._loop = loop
        self._lines: collections.deque[bytes] = collections.deque()
        self._partial = b""
        """What the fd took only part of, to be written first."""
        self._pending = 0
        """Bytes gathered and not yet written, the partial write's rest included."""
        self._flush: asyncio.Handle | None = None
        self._soon = False
        """The flush is due now (a pipe write's worth has gathered), not on its timer."""
        self._waiting = False
        """Waiting for the fd to be writable again."""
        self._dropped = 0
        self._warned = 0.0
        self._closed = False

    @property
    def pending_bytes(self) -> int:
        return self._pending

    def write(self, exchange: Exchange, duration: float) -> None:
        if self._closed:  # the server has stopped: nothing more goes out
            self._drop(1, "the access log is closed")
            return
        line = _encode(exchange, duration)
        if self._pending + len(line) > self.MAX_PENDING:
            self._drop(1)
            return
        self._lines.append(line)
        self._pending += len(line)
        if self._waiting or self._soon:
            return
        if self._pending >= PIPE_BUF:
            if self._flush is not None:
                self._flush.cancel()
            self._flush = self._loop.call_soon(self._write_now)
            self._soon = True
        elif self._flush is None:
            self._flush = self._loop.call_later(FLUSH_SECONDS, self._write_now)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._waiting:
            self._loop.remove_writer(self._fd)
            self._waiting = False
        deadline = time.monotonic() + CLOSE_SECONDS
        poller = select.poll()
        poller.register(self._fd, select.POLLOUT)
        try:
            while not self._write_out():
                left = deadline - time.monotonic()
                if left <= 0:
                    self._drop_pending()
                    break
                poller.poll(left * 1000)
        except OSError:
            self._failed()
        self._drop(0)
        if self._owned:
            os.close(self._fd)

    def _write_now(self) -> None:
        self._flush = None
        self._soon = False
        try:
            if self._write_out():
                return
        except OSError:
            self._failed()
            return
        self._waiting = True
        self._loop.add_writer(self._fd, self._writable)

    def _writable(self) -> None:
        self._loop.remove_writer(self._fd)
        self._waiting = False
        self._write_now()

    def _write_out(self) -> bool:
        """Write until everything is written (True) or the fd takes no more (False)."""
        while self._partial or self._lines:
            data = self._partial or _batch(self._lines)
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                self._partial = data
                return False
            self._pending -= written
            self._partial = data[written:]
        return True

    def _failed(self) -> None:
        self._drop_pending("cannot write the access log")

    def _drop_pending(self, reason: str = SLOW_READER) -> None:
        # Each line ends in a newline: those left in the rest of a write are lines not written.
        self._drop(len(self._lines) + self._partial.count(b"\n"), reason)
        self._lines.clear()
        self._partial = b""
        self._pending = 0

    def _drop(self, count: int, reason: str = SLOW_READER) -> None:
        """Count dropped lines; say so at most every WARN_SECONDS (and when closing)."""
        self._dropped += count
        now = time.monotonic()
        if self._dropped and (now - self._warned >= WARN_SECONDS or self._closed):
            log.warning("%s: %d lines dropped", reason, self._dropped)
            self._dropped = 0
            self._warned = now


class ThreadWriter:
    """Lines gathered by requests, written to a blocking `fd` by one thread.

    Requests only append to a deque; the thread wakes every FLUSH_SECONDS and takes what has
    gathered. Waking it per line cost the request path a thread switch and a GIL hand-off
    each time, which at low concurrency was a fifth of the gateway's CPU."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lines: collections.deque[bytes] = collections.deque()  # thread-safe ends
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def write(self, exchange: Exchange, duration: float) -> None:
        self._lines.append(_encode(exchange, duration))

    def close(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(CLOSE_SECONDS)

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self._flush()
        self._flush()

    def _flush(self) -> None:
        lines = self._lines
        try:
            while lines:
                data = memoryview(_batch(lines))
                while data:
                    data = data[os.write(self._fd, data) :]
        except OSError:
            log.warning("cannot write the access log; lines are dropped")
            lines.clear()
