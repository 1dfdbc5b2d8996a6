"""What a test controls about a stand-in upstream, and what the stand-in records.

The stand-in runs on its own thread and event loop; everything shared with the test is guarded
by a lock or is a threading primitive."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any


class Gate:
    """Opened from the test's thread, awaited on the stand-in's event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def open(self) -> None:
        with self._lock:
            self._opened = True
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._opened:
                return
            self._waiters.append((loop, future))
        await future


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass
class Behaviour:
    """How the stand-in answers generation requests. Change it at any time from the test."""

    status: int = 200
    """Anything but 200 answers with that status and the provider's error body."""
    delay_seconds: float = 0.0
    """Wait this long before answering at all (to outlast a gateway timeout)."""
    chunk_delay_seconds: float = 0.0
    """Wait this long between streamed chunks."""
    hold_after_first: Gate | None = None
    """When set, a stream sends its first chunk, then waits until this gate opens."""
    break_after_first: bool = False
    """A stream sends its first chunk, then drops the connection."""
    text: str = "Hello from the upstream stand-in"
    tool_call: tuple[str, dict[str, Any]] | None = None
    """Answer chat requests that offer tools with a call to this (name, arguments)."""
    stop_reason: str | None = None
    """Anthropic only: force this stop reason (e.g. "max_tokens")."""
    stream_error: str | None = None
    """Anthropic only: a stream answers 200, then sends nothing but an `error` event of this
    type (e.g. "overloaded_error"), as Anthropic does when it fails after accepting a request."""
    models_status: int = 200
    """Status of GET /v1/models, which the gateway's active health check uses."""


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    client_port: int = 0
    """The sending side's port: requests on one pooled connection share it."""


@dataclass
class Record:
    """What one stand-in saw. Tests read it; the stand-in writes it."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _requests: list[Received] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)
    """Set when a client went away in the middle of a streamed answer."""
    first_chunk_sent: threading.Event = field(default_factory=threading.Event)
    """Set when a stream's first chunk has been written."""
    _disconnects: int = 0

    def add(self, received: Received) -> None:
        with self._lock:
            self._requests.append(received)

    def saw_disconnect(self) -> None:
        with self._lock:
            self._disconnects += 1
        self.disconnected.set()

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    @property
    def disconnects(self) -> int:
        with self._lock:
            return self._disconnects

    def posts(self) -> list[Received]:
        """Generation requests only (health checks are GETs)."""
        return [request for request in self.requests if request.method == "POST"]

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._disconnects = 0
        self.disconnected.clear()
        self.first_chunk_sent.clear()
