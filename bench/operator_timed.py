"""`runestone operator` with measurement hooks, for bench/operator_scale.py.

    .venv/bin/python bench/operator_timed.py STATS.json [operator arguments...]

The operator has no reconcile-duration metric of its own yet, so this entry point wraps the
work queue's reconcile call to time each reconcile, and counts every HTTP request the process
sends to the API server (its Kubernetes client and Kopf's watches both use aiohttp) by verb.
Every second, and at exit, the figures are written to STATS.json. Nothing else changes: the
operator's own `main` runs with the remaining arguments."""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from runestone_operator import app, cli


class Stats:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.reconciles: list[tuple[str, float, float]] = []  # kind, seconds, monotonic end
        self.requests: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def write(self) -> None:
        with self._lock:
            document = {
                "reconciles": list(self.reconciles),
                "requests": dict(self.requests),
                "written_at": time.monotonic(),
            }
        staging = self.path.with_suffix(".staging")
        staging.write_text(json.dumps(document))
        staging.replace(self.path)

    def every_second(self) -> None:
        while True:
            time.sleep(1)
            self.write()


def instrument(stats: Stats) -> None:
    reconcile = app.Reconciler.__call__

    async def timed(self: app.Reconciler, key: Any) -> Any:
        started = time.perf_counter()
        try:
            return await reconcile(self, key)
        finally:
            end = time.perf_counter()
            stats.reconciles.append((key[0], end - started, time.monotonic()))

    request = aiohttp.ClientSession._request

    async def counted(self: aiohttp.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        params = kwargs.get("params") or {}
        watching = "watch=true" in str(url) or str(dict(params).get("watch", "")).lower() in (
            "true",
            "1",
        )
        stats.requests["WATCH" if watching else method.upper()] += 1
        return await request(self, method, url, **kwargs)

    app.Reconciler.__call__ = timed  # type: ignore[method-assign]
    aiohttp.ClientSession._request = counted  # type: ignore[method-assign,assignment]


def main() -> int:
    stats = Stats(Path(sys.argv[1]))
    instrument(stats)
    threading.Thread(target=stats.every_second, daemon=True).start()
    try:
        return cli.main(sys.argv[2:])
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0
    finally:
        stats.write()


if __name__ == "__main__":
    sys.exit(main())
