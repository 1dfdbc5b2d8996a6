"""The sidecar's own HTTP endpoints: `/healthz` (is the probe loop alive) and `/metrics`.

A bare asyncio server: two fixed GET routes do not need a web framework in a process that is
meant to stay small.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from runestone_sidecar import metrics

READ_TIMEOUT = 5.0
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Heartbeat:
    """When the probe loop last completed a probe; /healthz fails when it stops beating."""

    stale_after: float
    last: float = 0.0

    def beat(self) -> None:
        self.last = time.monotonic()

    def check(self) -> tuple[bool, str]:
        if self.last == 0.0:
            return True, "starting"
        age = time.monotonic() - self.last
        if age > self.stale_after:
            return False, f"the probe loop has not completed a probe for {age:.0f}s"
        return True, "ok"


class HealthHttp:
    def __init__(self, sidecar_metrics: metrics.Metrics, liveness: Callable[[], tuple[bool, str]]):
        self._metrics = sidecar_metrics
        self._liveness = liveness

    async def start(self, host: str, port: int) -> asyncio.Server:
        # A socket bound here rather than by start_server(host, port): that path resolves the
        # address on a worker thread, and the thread (with its malloc arena) lives on, idle.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        return await asyncio.start_server(self._handle, sock=sock)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                request_line = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
            status, content_type, body = self._route(request_line)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass  # a client that talks nonsense or goes silent just loses its connection
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _route(self, request_line: bytes) -> tuple[str, str, bytes]:
        parts = request_line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return "400 Bad Request", "text/plain", b"bad request\n"
        method, target = parts[0], parts[1].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"method not allowed\n"
        if target == "/healthz":
            alive, detail = self._liveness()
            status = "200 OK" if alive else "503 Service Unavailable"
            return status, "text/plain", f"{detail}\n".encode()
        if target == "/metrics":
            return "200 OK", PROMETHEUS_TEXT, self._metrics.render().encode()
        return "404 Not Found", "text/plain", b"not found\n"
