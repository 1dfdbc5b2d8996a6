"""The operator's HTTP port: liveness at the configured path (200 with the activity report, 500
with the reason once silent too long) and Prometheus metrics at /metrics on the same port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devcluster import processes
from runestone_operator.core import endpoints, metrics


@contextlib.asynccontextmanager
async def _serving(healthy: list[bool], counted: metrics.Metrics) -> AsyncIterator[str]:
    def activity() -> dict[str, object]:
        if not healthy[0]:
            raise endpoints.Unhealthy("no watch event for 99s")
        return {"resyncPasses": 2, "leading": True}

    address = endpoints.Address.parse(f"http://127.0.0.1:{processes.free_port()}/healthz")
    started = asyncio.Event()
    task = asyncio.create_task(endpoints.serve(address, activity, counted.render, started))
    try:
        async with asyncio.timeout(10):
            await started.wait()
        yield f"http://{address.host}:{address.port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_liveness_and_metrics_share_the_port() -> None:
    healthy = [True]
    counted = metrics.Metrics()
    counted.leading(True)
    async with _serving(healthy, counted) as base, aiohttp.ClientSession() as session:
        async with session.get(f"{base}/healthz") as response:
            assert response.status == 200
            assert await response.json() == {"activity": {"resyncPasses": 2, "leading": True}}
        async with session.get(f"{base}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert "runestone_operator_leader 1.0" in await response.text()
        healthy[0] = False
        async with session.get(f"{base}/healthz") as response:
            assert response.status == 500
            assert await response.json() == {"error": "no watch event for 99s"}


@pytest.mark.parametrize(
    "url",
    ["https://0.0.0.0:8080/healthz", "http://0.0.0.0/healthz", "http://0.0.0.0:8080/metrics"],
)
def test_unusable_addresses_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="liveness endpoint"):
        endpoints.Address.parse(url)
