"""Running the gateway: the API server and the health server in one event loop (uvloop,
httptools), and an orderly shutdown.

The API port speaks HTTP/1.1 through the gateway's own protocol (`transport.http1`) unless
`--http` names one of uvicorn's (`httptools`, `h11`, `auto`); the health port always uses
uvicorn's httptools protocol.

On SIGTERM or SIGINT readiness turns false at once, the API server stops accepting connections
and lets in-flight requests and streams run for up to the graceful-shutdown deadline, then
cancels what is left; the health server stops last. A second signal skips the wait."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import uvicorn
import uvloop

from runestone_gateway import config
from runestone_gateway.api import app
from runestone_gateway.process import health, service
from runestone_gateway.telemetry import accesslog
from runestone_gateway.transport import http1, tlsserve, uvicorn_refusals

log = logging.getLogger("runestone.gateway")

HTTP_PROTOCOLS: Mapping[str, type[asyncio.Protocol]] = {
    "runestone": http1.Protocol,
    "httptools": uvicorn_refusals.HttpToolsProtocol,
    "h11": uvicorn_refusals.H11Protocol,
    "auto": uvicorn_refusals.HttpToolsProtocol,  # uvicorn's `auto`: httptools when installed
}
"""The API port's HTTP/1.1 implementations by `--http` name: the gateway's own (the default), or
one of uvicorn's (whose own 400 the gateway words in its error envelope)."""


@dataclass(frozen=True)
class Listen:
    """Where to serve and how long to wait for in-flight requests on shutdown."""

    host: str
    port: int
    health_port: int
    graceful_shutdown_seconds: float
    tls: config.Tls | None = None
    """Serve the API over HTTPS with this pair (the health port stays plain HTTP for probes)."""
    http: str = "runestone"
    """The API port's HTTP/1.1 implementation, a name of HTTP_PROTOCOLS."""


class Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve` (two servers share one process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.config.ssl is None:
            await super().shutdown(sockets)
            return
        # A TLS connection the server has closed still waits, by default up to 30 s, for the
        # client to answer its close_notify; idle pooled clients never do, and shutdown would
        # wait on them. Such connections have sent their last response: drop them at once.
        dropping = asyncio.create_task(self._drop_closing_connections())
        try:
            await super().shutdown(sockets)
        finally:
            dropping.cancel()

    async def _drop_closing_connections(self) -> None:
        while True:
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None and transport.is_closing():
                    transport.abort()
            await asyncio.sleep(0.05)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port`; OSError when another socket holds the port."""
    return _listen(_bound(host, port))


def bind_group(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one port, one per worker, among which the kernel spreads
    new connections evenly (SO_REUSEPORT). On one shared socket, whichever worker is awake
    takes a burst of new connections, so long-lived keep-alive connections pile onto one worker.

    The first socket is bound without SO_REUSEPORT, so a port another process listens on is
    refused as `bind` refuses it; it is flagged before it listens, and the others join it.
    Without SO_REUSEPORT (not Linux or BSD) every worker gets the one shared socket."""
    first = _bound(host, port)
    if count == 1 or not hasattr(socket, "SO_REUSEPORT"):
        return [_listen(first)] * count
    first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    group = [_listen(first)]
    try:
        for _ in range(count - 1):
            sock = _socket(host)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(first.getsockname()[:2])
            group.append(_listen(sock))
    except OSError:
        for sock in group:
            sock.close()
        raise
    return group


def _socket(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Naming TCP explicitly lets event loops recognise the socket and turn Nagle's algorithm
    # off on accepted connections; Linux also inherits TCP_NODELAY from the listener.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _bound(host: str, port: int) -> socket.socket:
    sock = _socket(host)
    sock.bind((host, port))
    return sock


def _listen(sock: socket.socket) -> socket.socket:
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run(
    settings: service.Settings, listen: Listen, sockets: tuple[socket.socket, socket.socket]
) -> bool:
    """Serve until a signal ends it. False when the gateway could not start."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(serve(settings, listen, sockets))


async def serve(
    settings: service.Settings, listen: Listen, sockets: tuple[socket.socket, socket.socket]
) -> bool:
    gateway = service.Gateway(settings)
    api_app = app.GatewayApp(gateway)
    gateway.ledger.access_log = accesslog.open_writer(
        sys.stdout.fileno(), asyncio.get_running_loop()
    )
    api_sock, health_sock = sockets
    api_config = uvicorn.Config(
        api_app,
        http=HTTP_PROTOCOLS[listen.http],
        ws="none",  # no WebSocket endpoints: under uvicorn's protocols an upgrade is plain HTTP
        proxy_headers=False,  # nothing reads the client address; spares a wrapper per request
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=_whole_seconds(listen.graceful_shutdown_seconds),
    )
    if listen.tls is not None:
        try:
            gateway.certificates = tlsserve.Certificates(listen.tls)
        except tlsserve.TlsError as error:
            log.error("cannot serve HTTPS: %s", error)
            return False
        api_config.load()
        # The context stays the same object for the server's life; rotation loads into it.
        api_config.ssl = gateway.certificates.context
    api_server = Server(api_config)
    health_server = Server(
        uvicorn.Config(
            health.HealthApp(gateway),
            http="httptools",
            ws="none",
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
        )
    )

    def on_signal(signum: int) -> None:
        if gateway.draining:
            log.warning("second signal: stopping without waiting for in-flight requests")
            api_server.force_exit = True
            return
        log.info("signal %d: draining in-flight requests, then stopping", signum)
        gateway.draining = True
        api_server.should_exit = True

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    health_task = asyncio.create_task(health_server.serve(sockets=[health_sock]))
    try:
        await api_server.serve(sockets=[api_sock])
    except SystemExit:
        pass  # uvicorn exits this way when the app's startup failed; it has logged why
    finally:
        health_server.should_exit = True
        await health_task
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        gateway.ledger.settle()
        gateway.ledger.access_log.close()
    return gateway.started


def _whole_seconds(seconds: float) -> int:
    # uvicorn takes whole seconds; round up so a deadline is never shortened.
    return int(-(-seconds // 1))
