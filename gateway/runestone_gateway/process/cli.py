"""`runestone gateway`: serve the OpenAI-compatible gateway.

Without --config the built-in mock provider is served. Whenever the config names no key table,
one API key is generated and printed once: authentication is never off."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from runestone_gateway import apikeys
from runestone_gateway.process import loader, server, service, workers
from runestone_gateway.transport import tlsserve

log = logging.getLogger("runestone.gateway")


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="runestone gateway", description="Serve the OpenAI-compatible LLM gateway."
    )
    cli.add_argument("--config", type=Path, help="gateway config file (YAML or JSON)")
    cli.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    cli.add_argument("--port", type=int, default=8080, help="API port (default 8080)")
    cli.add_argument(
        "--health-port", type=int, default=8081, help="/livez, /readyz, /metrics (default 8081)"
    )
    cli.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    cli.add_argument(
        "--http",
        default="runestone",
        choices=list(server.HTTP_PROTOCOLS),
        help="the API port's HTTP/1.1 implementation: the gateway's own (runestone, default), "
        "or uvicorn's httptools, h11 or auto",
    )
    cli.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return cli


def main(argv: Sequence[str]) -> int:
    options = parser().parse_args(list(argv))
    logging.basicConfig(
        level=options.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if options.workers < 1:
        print("runestone gateway: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        loaded = loader.load(options.config)
    except loader.ConfigError as error:
        print(f"runestone gateway: {error}", file=sys.stderr)
        return 2
    tls = loaded.config.server.tls
    if tls is not None:
        try:
            tlsserve.check(tls)
        except tlsserve.TlsError as error:
            print(f"runestone gateway: {error}", file=sys.stderr)
            return 2
    if options.workers > 1 and loaded.config.limits.store.type == "local":
        log.warning(
            "limits.store is local: each of the %d workers counts per-key limits on its own, "
            "so keys get up to %d times their limits; use a redis store to share them",
            options.workers,
            options.workers,
        )
    fallback: frozenset[str] = frozenset()
    if loaded.config.auth.key_table_file is None:
        key = apikeys.generate()
        fallback = frozenset({apikeys.digest(key)})
        # Printed once, on stdout, never logged: the only copy is whoever reads this line.
        print(f"API key (printed once, valid until this process ends): {key}", flush=True)
    settings = service.Settings(config_path=options.config, fallback_key_hashes=fallback)
    listen = server.Listen(
        host=options.host,
        port=options.port,
        health_port=options.health_port,
        graceful_shutdown_seconds=loaded.config.server.graceful_shutdown_seconds,
        tls=tls,
        http=options.http,
    )
    try:
        api_sockets = server.bind_group(listen.host, listen.port, options.workers)
        health_socket = server.bind(listen.host, listen.health_port)
    except OSError as error:
        print(f"runestone gateway: cannot listen: {error}", file=sys.stderr)
        return 2
    log.info(
        "serving the API (%s, %s protocol) on %s:%d and health on %s:%d with %d worker(s)",
        "HTTPS" if tls else "HTTP",
        options.http,
        listen.host,
        listen.port,
        listen.host,
        listen.health_port,
        options.workers,
    )
    if options.workers > 1:
        return workers.run(settings, listen, api_sockets, health_socket)
    return 0 if server.run(settings, listen, (api_sockets[0], health_socket)) else 1
