"""The health port: `/livez`, `/readyz`, `/metrics`, the model view `/models`; and the active
health checks of providers."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING

import orjson

from runestone_gateway import errors
from runestone_gateway.api import asgi
from runestone_gateway.failover import routing
from runestone_gateway.telemetry import metrics, modelhealth

if TYPE_CHECKING:
    from runestone_gateway.process import service

log = logging.getLogger("runestone.gateway.health")


class HealthApp:
    """Served on its own port so probes and scrapes never queue behind API traffic."""

    def __init__(self, gateway: service.Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http":
            return  # lifespan belongs to the API app
        path = scope["path"]
        if path == "/livez":
            await _text(send, 200, b"ok\n")
        elif path == "/readyz":
            ready, reason = self.gateway.readiness()
            await _text(send, 200 if ready else 503, (reason + "\n").encode())
        elif path == "/metrics":
            self.gateway.ledger.settle()
            body = self.gateway.metrics.render()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", metrics.CONTENT_TYPE.encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif path == modelhealth.PATH or path.startswith(modelhealth.PATH + "/"):
            await self._models(path, send)
        else:
            await _text(send, 404, b"not found\n")

    async def _models(self, path: str, send: asgi.Send) -> None:
        if not self.gateway.started:
            await _text(send, 503, b"config not loaded\n")
            return
        self.gateway.ledger.settle()  # requests that have ended are no longer in flight
        current = self.gateway.runtime
        targets = current.targets
        name = path[len(modelhealth.PATH) + 1 :]
        if name:
            targets = [target for target in targets if target.model.name == name]
            if not targets:
                await asgi.send_json(send, 404, errors.model_not_found(name).body())
                return
        view = modelhealth.document(
            targets,
            current.config.provider_pools,
            generation=current.generation,
            pid=os.getpid(),
            now=time.perf_counter(),
            wall=time.time(),
        )
        body = view["models"][0] if name else view
        await asgi.send_json(send, 200, orjson.dumps(body, option=orjson.OPT_INDENT_2))


async def _text(send: asgi.Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def start_checks(
    targets: list[routing.Target],
    intervals: dict[str, tuple[float, float]],
    gateway_metrics: metrics.Metrics,
) -> list[asyncio.Task[None]]:
    """One task per provider, probing it every interval (first after one interval).

    `intervals` maps a pool to (interval, timeout) seconds."""
    by_provider: dict[tuple[str, str], list[routing.Target]] = {}
    for target in targets:
        by_provider.setdefault((target.pool, target.provider_name), []).append(target)
    return [
        asyncio.create_task(
            _check_loop(pool, group, *intervals[pool], gateway_metrics),
            name=f"health-check {pool}/{provider}",
        )
        for (pool, provider), group in by_provider.items()
    ]


async def _check_loop(
    pool: str,
    targets: list[routing.Target],
    interval: float,
    probe_timeout: float,
    gateway_metrics: metrics.Metrics,
) -> None:
    provider = targets[0].provider
    health = targets[0].health
    gauge = gateway_metrics.provider_healthy.labels(pool, provider.name)
    gauge.set(1)
    while True:
        await asyncio.sleep(interval)
        try:
            async with asyncio.timeout(probe_timeout):
                healthy = await provider.probe()
            result = "ok" if healthy else "failed: unreachable, or a server error"
        except TimeoutError:
            healthy, result = False, f"no answer within {probe_timeout:g}s"
        except Exception:
            log.exception("health check of %s/%s failed unexpectedly", pool, provider.name)
            healthy, result = False, "unexpected error (logged)"
        if healthy != health.healthy:
            log.warning(
                "provider %s/%s is now %s",
                pool,
                provider.name,
                "healthy" if healthy else "unhealthy",
            )
        health.record(healthy, result, time.time())
        gauge.set(1 if healthy else 0)
        for target in targets:
            target.breaker.half_open_if_due()  # so its gauge shows it ready for a probe
