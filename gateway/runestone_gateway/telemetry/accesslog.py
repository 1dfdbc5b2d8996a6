"""The access log: one JSON line per API request on stdout, and the per-request record it is
written from (which also feeds the request metrics).

Lines carry the request id (also sent back as `x-request-id`), the key id (never the key, and
key-shaped tokens in the path are redacted), model, provider, status, tokens and timings.
Prompts are logged only when `server.logPrompts` is on. Lines are written by a thread of their
own, so a slow reader of stdout never stalls requests."""

from __future__ import annotations

import atexit
import collections
import logging
import os
import re
import select
import threading
import time
from typing import Any

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


class Writer:
    """Lines gathered by requests, written to `fd` by one thread in writes of at most PIPE_BUF
    bytes, so the lines of several worker processes sharing one stdout pipe never interleave.

    Requests only append to a deque; the thread wakes every FLUSH_SECONDS and takes what has
    gathered. Waking it per line cost the request path a thread switch and a GIL hand-off
    each time, which at low concurrency was a fifth of the gateway's CPU."""

    FLUSH_SECONDS = 0.05

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lines: collections.deque[bytes] = collections.deque()  # thread-safe ends
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def write(self, exchange: Exchange, duration: float) -> None:
        self._lines.append(orjson.dumps(exchange.line(duration)))

    def close(self) -> None:
        """Write what has gathered, then stop."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.FLUSH_SECONDS):
            self._flush()
        self._flush()

    def _flush(self) -> None:
        lines = self._lines
        batch = b""
        while lines:
            line = lines.popleft()
            if batch and len(batch) + len(line) + 1 > PIPE_BUF:
                self._write(batch)
                batch = b""
            batch += line + b"\n"
        if batch:
            self._write(batch)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            log.warning("cannot write the access log; lines are dropped")
