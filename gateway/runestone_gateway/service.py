"""The gateway's process-wide state: the current runtime, config reloads, health checks and
readiness. One `Gateway` per process, created by the app factory; nothing here runs at import."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from runestone_gateway import health, loader, metrics, runtime

log = logging.getLogger("runestone.gateway")


@dataclass(frozen=True)
class Settings:
    config_path: Path | None = None
    """Without a config file the built-in mock provider is served."""
    fallback_key_hashes: frozenset[str] = frozenset()
    """SHA-256 hashes of keys accepted while the config names no key table (the generated key)."""
    multiprocess_metrics: bool = False
    """Several worker processes share metrics through PROMETHEUS_MULTIPROC_DIR."""


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = metrics.Metrics(multiprocess_mode=settings.multiprocess_metrics)
        self.rng = random.Random()  # noqa: S311 - spreads load, guards no secret
        self.draining = False
        self._runtime: runtime.Runtime | None = None
        self._generation = 0
        self._health_tasks: list[asyncio.Task[None]] = []
        self._retiring: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._loaded_fingerprint: str | None = None
        self._refused_fingerprint: str | None = None

    @property
    def runtime(self) -> runtime.Runtime:
        if self._runtime is None:
            raise RuntimeError("the gateway has not started")
        return self._runtime

    @property
    def started(self) -> bool:
        return self._runtime is not None

    async def start(self) -> None:
        """Load the config (raises loader.ConfigError) and start watching it."""
        loaded = await asyncio.to_thread(loader.load, self.settings.config_path)
        self._activate(loaded)
        self.metrics.workers.set(1)
        self.metrics.config_reloads.labels("success")
        self.metrics.config_reloads.labels("failure")
        if self.settings.config_path is not None:
            self._watcher = asyncio.create_task(self._watch(), name="config-watch")

    async def stop(self) -> None:
        tasks = [*self._health_tasks, *([self._watcher] if self._watcher else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*self._retiring, return_exceptions=True)
        if self._runtime is not None:
            await self._runtime.close()

    def readiness(self) -> tuple[bool, str]:
        if self.draining:
            return False, "shutting down"
        if self._runtime is None:
            return False, "config not loaded"
        unservable = self._runtime.unservable_models()
        if unservable:
            return False, f"every provider's circuit is open for: {', '.join(unservable)}"
        return True, f"ready (config generation {self._generation})"

    async def reload_if_changed(self) -> bool:
        """Reload when the config file or a secret file it names changed. Returns whether a
        new config went live; a refused one is logged and counted once per content."""
        current = self.runtime
        path = self.settings.config_path
        seen = loader.fingerprint(path, current.config.secret_files())
        if seen in (self._loaded_fingerprint, self._refused_fingerprint):
            return False
        try:
            loaded = await asyncio.to_thread(loader.load, path)
        except loader.ConfigError as error:
            self._refused_fingerprint = seen
            self.metrics.config_reloads.labels("failure").inc()
            log.error("refused the changed config, the previous one keeps serving: %s", error)
            return False
        if loaded.fingerprint == self._loaded_fingerprint:
            return False
        self._activate(loaded)
        self.metrics.workers.set(1)
        self.metrics.config_reloads.labels("success").inc()
        log.info("loaded config generation %d", self._generation)
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.runtime.config.server.reload_check_seconds)
            try:
                await self.reload_if_changed()
            except Exception:
                log.exception(
                    "config reload failed unexpectedly; the previous config keeps serving"
                )

    def _activate(self, loaded: loader.Loaded) -> None:
        previous = self._runtime
        self._generation += 1
        current = runtime.build(
            loaded,
            generation=self._generation,
            metrics=self.metrics,
            fallback_key_hashes=self.settings.fallback_key_hashes,
            previous=previous,
        )
        self._loaded_fingerprint = loaded.fingerprint
        self._refused_fingerprint = None
        self._runtime = current
        self.metrics.config_generation.set(self._generation)
        for task in self._health_tasks:
            task.cancel()
        intervals = {
            pool.name: (pool.health_check.interval_seconds, pool.health_check.timeout_seconds)
            for pool in loaded.config.provider_pools
        }
        self._health_tasks = health.start_checks(current.targets, intervals, self.metrics)
        if previous is not None:
            task = asyncio.create_task(previous.retire(), name=f"retire-{previous.generation}")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
