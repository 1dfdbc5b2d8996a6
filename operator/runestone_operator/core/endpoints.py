"""The operator's HTTP port (`--liveness`, default `http://0.0.0.0:8080/healthz`): the liveness
document at the URL's path and the Prometheus metrics at `/metrics`, on the same host and port.

The liveness answers 200 with `{"activity": {...}}` while the operator is active, 500 with
`{"error": ...}` once it has been silent too long."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp.web

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Unhealthy(Exception):
    """The liveness check failed; the message says why."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Address:
        """An `http://host:port/path` URL; ValueError for anything else."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.port is None:
            raise ValueError(f"the liveness endpoint must be http://HOST:PORT/PATH, not {url!r}")
        path = parts.path or "/"
        if path == METRICS_PATH:
            raise ValueError(f"the liveness endpoint's path cannot be {METRICS_PATH}")
        return cls(parts.hostname, parts.port, path)


async def serve(
    address: Address,
    activity: Callable[[], Mapping[str, object]],
    metrics: Callable[[], bytes],
    started: asyncio.Event | None = None,
) -> None:
    """Serve until cancelled. `activity` returns the liveness report or raises `Unhealthy`."""

    async def liveness(_: aiohttp.web.Request) -> aiohttp.web.Response:
        try:
            report = activity()
        except Unhealthy as unhealthy:
            logger.error("liveness: %s", unhealthy)
            return aiohttp.web.json_response({"error": str(unhealthy)}, status=500)
        return aiohttp.web.json_response({"activity": report}, dumps=json.dumps)

    async def scrape(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=metrics(), headers={"Content-Type": METRICS_TYPE})

    app = aiohttp.web.Application()
    app.add_routes([aiohttp.web.get(address.path, liveness), aiohttp.web.get(METRICS_PATH, scrape)])
    runner = aiohttp.web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await aiohttp.web.TCPSite(runner, address.host, address.port).start()
        logger.debug("serving liveness at %s and metrics at %s", address.path, METRICS_PATH)
        if started is not None:
            started.set()
        await asyncio.Event().wait()
    finally:
        await asyncio.shield(runner.cleanup())
