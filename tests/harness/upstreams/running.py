"""Run an ASGI app with uvicorn on a loopback port, on a thread of its own."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette

from harness.upstreams import anthropic_server, control, openai_server

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Upstream:
    """One running stand-in: where it listens, how it behaves, what it saw."""

    flavour: str  # "openai" or "anthropic"
    port: int
    behaviour: control.Behaviour = field(default_factory=control.Behaviour)
    record: control.Record = field(default_factory=control.Record)

    @property
    def base_url(self) -> str:
        """What a gateway provider's `baseURL` should be."""
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.flavour == "openai" else root


class _ThreadServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.contextmanager
def serve(app: Starlette) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    server = _ThreadServer(
        uvicorn.Config(
            app, loop="uvloop", lifespan="off", log_level="warning", timeout_graceful_shutdown=1
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the stand-in upstream did not start")
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def upstream(flavour: str) -> Iterator[Upstream]:
    behaviour = control.Behaviour()
    record = control.Record()
    factory = openai_server.create_app if flavour == "openai" else anthropic_server.create_app
    with serve(factory(behaviour, record)) as port:
        yield Upstream(flavour, port, behaviour, record)
