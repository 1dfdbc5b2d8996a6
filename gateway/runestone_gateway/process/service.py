"""The gateway's process-wide state: the current runtime, config reloads, health checks and
readiness. One `Gateway` per process, created by the server; nothing here runs at import."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from runestone_gateway.admission import limits, limitstore
from runestone_gateway.process import health, loader, runtime
from runestone_gateway.state import responses
from runestone_gateway.telemetry import accounting, metrics
from runestone_gateway.transport import tlsserve

log = logging.getLogger("runestone.gateway")
_Runtime = runtime.Runtime  # inside Gateway, `runtime` is the property


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
        self._store: limitstore.Store | None = None
        self._store_identity: tuple[str, str | None] | None = None
        self._responses: responses.Store | None = None
        """Stored responses, in the same Redis as the limits; none with a local store."""
        self._store_failures = limits.FailureLog()
        self.certificates: tlsserve.Certificates | None = None
        """Set by the server when it serves HTTPS; reloads refresh it."""
        self.ledger = accounting.Ledger(self.metrics)
        self.metrics.describe_keys(self._key_facts)

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
        if self._store is not None:
            await self._store.close()

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

    def _key_facts(self) -> metrics.KeyFacts:
        if self._runtime is None:
            return {}, {}
        keys = self._runtime.keys
        return keys.expiries(), keys.budgets()

    def _limiter(self, loaded: loader.Loaded) -> tuple[limits.Limiter, limitstore.Store | None]:
        """The limiter of a new config, and the store it replaces (to close), if any.

        The store, and with it the local counters, is kept while its type and URL stay."""
        spec = loaded.config.limits.store
        url = spec.url or (loaded.secrets[spec.url_file] if spec.url_file else None)
        identity = (spec.type, url)
        replaced = None
        if self._store is None or identity != self._store_identity:
            replaced = self._store
            if spec.type == "redis" and url:
                # redis-py is imported only by gateways that use it (it is heavy to import).
                from runestone_gateway.admission import redisstore

                store = redisstore.RedisStore(url, on_failure=self._store_failed)
                self._store = store
                self._responses = responses.RedisResponses(store.client)
            else:
                self._store = limitstore.LocalStore()
                self._responses = None
            self._store_identity = identity
        limiter = limits.Limiter(self._store, spec.fail_mode, self.metrics, self._store_failures)
        return limiter, replaced

    def _store_failed(self, operation: str, detail: str) -> None:
        if self._runtime is not None:
            self._runtime.limiter.failed(operation, detail)

    async def _retire(self, previous: _Runtime, store: limitstore.Store | None) -> None:
        await previous.retire()
        if store is not None:
            await store.close()

    def _activate(self, loaded: loader.Loaded) -> None:
        previous = self._runtime
        self._generation += 1
        limiter, replaced_store = self._limiter(loaded)
        current = runtime.build(
            loaded,
            generation=self._generation,
            metrics=self.metrics,
            fallback_key_hashes=self.settings.fallback_key_hashes,
            limiter=limiter,
            responses=self._responses,
            previous=previous,
        )
        self._loaded_fingerprint = loaded.fingerprint
        self._refused_fingerprint = None
        self._runtime = current
        if self.certificates is not None and previous is not None:
            self.certificates.refresh(loaded.config.server.tls)
        self.metrics.config_generation.set(self._generation)
        for task in self._health_tasks:
            task.cancel()
        intervals = {
            pool.name: (pool.health_check.interval_seconds, pool.health_check.timeout_seconds)
            for pool in loaded.config.provider_pools
        }
        self._health_tasks = health.start_checks(current.targets, intervals, self.metrics)
        if previous is not None:
            task = asyncio.create_task(
                self._retire(previous, replaced_store), name=f"retire-{previous.generation}"
            )
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
