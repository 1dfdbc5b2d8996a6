"""Workloads for the sidecar to probe, whose health the tests switch at will: a small HTTP server
that can answer well, refuse, stall, reset or talk garbage, and a real grpcio health server."""

from __future__ import annotations

import collections
import contextlib
import socket
import socketserver
import struct
import threading
import time
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

OK = "ok"  # 200 with a JSON body
FAIL = "fail"  # 503 saying why
GARBAGE = "garbage"  # bytes that are not HTTP
HANG = "hang"  # accept, read, never answer
RESET = "reset"  # accept, read, reset the connection
MODES = (OK, FAIL, GARBAGE, HANG, RESET)


class HttpTarget:
    """A loopback HTTP server whose answers follow `mode`, or a script of modes consumed one per
    request (then `mode` again), so a test decides exactly what each probe sees."""

    def __init__(self, mode: str = OK) -> None:
        self._lock = threading.Lock()
        self._mode = mode
        self._script: collections.deque[str] = collections.deque()
        self.served: list[tuple[float, str]] = []  # (monotonic time, mode) per request
        self._closing = threading.Event()
        target = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                target._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/readyz"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def set_mode(self, mode: str) -> float:
        """Switch every later answer to `mode`; return when (monotonic) the switch happened."""
        assert mode in MODES
        with self._lock:
            self._mode = mode
            self._script.clear()
            return time.monotonic()

    def script(self, modes: list[str], then: str) -> None:
        with self._lock:
            self._script = collections.deque(modes)
            self._mode = then

    def requests(self) -> int:
        with self._lock:
            return len(self.served)

    def _next_mode(self) -> str:
        with self._lock:
            mode = self._script.popleft() if self._script else self._mode
            self.served.append((time.monotonic(), mode))
            return mode

    def _handle(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        with contextlib.suppress(OSError):
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
            mode = self._next_mode()
            if mode == OK:
                body = b'{"ready": true}'
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            elif mode == FAIL:
                body = b'{"ready": false, "reason": "no upstream provider is healthy"}'
                sock.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            elif mode == GARBAGE:
                sock.sendall(b"\x16\x03\x01 this is not http at all \xff\xfe\r\n\r\n")
            elif mode == HANG:
                self._closing.wait(30)
            elif mode == RESET:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()


class GrpcTarget:
    """A real gRPC server with grpcio's health servicer; `set_serving` flips its status."""

    def __init__(self, service: str = "") -> None:
        self.service = service
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"
        self._server.start()
        self.set_serving(True)

    def set_serving(self, serving: bool) -> float:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        self._health.set(self.service, status)
        return time.monotonic()

    def close(self) -> None:
        self._server.stop(None).wait(10)
