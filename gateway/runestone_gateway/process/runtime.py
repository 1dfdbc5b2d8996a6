"""One generation of serving state, built from one loaded config: providers with their pooled
sessions, routing tables, breakers, the key check and pre-rendered model listings.

A runtime never changes after it is built (its breakers and latency averages do, by design).
Reload builds a new one and swaps it in; requests hold the runtime they started with, and a
retired runtime closes its sessions once its last request has finished."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from runestone_gateway import config
from runestone_gateway.admission import auth, limits
from runestone_gateway.failover import breaker, routing, window
from runestone_gateway.process import loader
from runestone_gateway.providers import base, registry
from runestone_gateway.state import responses as responses_
from runestone_gateway.telemetry import metrics

_StateKey = tuple[str, str, str]  # pool, provider, model
_Kept = tuple[breaker.CircuitBreaker, routing.Ewma, window.Window]


@dataclass(eq=False)
class Runtime:
    generation: int
    config: config.GatewayConfig
    keys: auth.KeyRing
    providers: dict[tuple[str, str], base.Provider]  # (pool, provider) -> provider
    routes: dict[tuple[str, str], routing.Route]  # (kind, model) -> route
    targets: list[routing.Target]
    models_body: bytes
    model_bodies: dict[str, bytes]
    limiter: limits.Limiter
    responses: responses_.Store | None = None
    """Where stored responses live; None without a shared store."""
    vector_store_secrets: tuple[str | None, str | None] = (None, None)
    """The Weaviate API key and CA bundle that `vectorStores` names, read from their files."""
    inflight: int = 0
    retired: bool = False
    _drained: asyncio.Event = field(default_factory=asyncio.Event)
    _listings: dict[frozenset[str], bytes] = field(default_factory=dict)

    def enter(self) -> None:
        self.inflight += 1

    def leave(self) -> None:
        self.inflight -= 1
        if self.retired and self.inflight == 0:
            self._drained.set()

    async def retire(self) -> None:
        """Stop taking requests, wait for the ones in flight, then close upstream sessions."""
        self.retired = True
        if self.inflight:
            await self._drained.wait()
        await self.close()

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.close()

    def models_body_for(self, who: auth.Principal) -> bytes:
        """The model listing, cut down to what the key may use."""
        if who.models is None:
            return self.models_body
        body = self._listings.get(who.models)
        if body is None:
            listing = orjson.loads(self.models_body)
            listing["data"] = [entry for entry in listing["data"] if entry["id"] in who.models]
            body = self._listings[who.models] = orjson.dumps(listing)
        return body

    def served_models(self) -> set[str]:
        return {target.model.name for target in self.targets}

    def unservable_models(self) -> list[str]:
        """Models every provider of which has an open circuit breaker still cooling down (read
        without moving any breaker: a request or a health check does that)."""
        servable = {
            target.model.name for target in self.targets if not target.breaker.cooling_down()
        }
        return sorted(self.served_models() - servable)

    def breaker_state(self, key: _StateKey) -> _Kept | None:
        for target in self.targets:
            if (target.pool, target.provider_name, target.model.name) == key:
                return target.breaker, target.latency, target.window
        return None


def build(
    loaded: loader.Loaded,
    *,
    generation: int,
    metrics: metrics.Metrics,
    fallback_key_hashes: frozenset[str],
    limiter: limits.Limiter,
    responses: responses_.Store | None = None,
    previous: Runtime | None = None,
) -> Runtime:
    """Must run inside the event loop (providers open their connection pools)."""
    gateway_config = loaded.config
    keys = (
        auth.KeyRing.from_table(loaded.key_table)
        if loaded.key_table is not None
        else auth.KeyRing(auth.generated(digest) for digest in sorted(fallback_key_hashes))
    )
    providers: dict[tuple[str, str], base.Provider] = {}
    targets: list[routing.Target] = []
    routes: dict[tuple[str, str], routing.Route] = {}
    for pool in gateway_config.provider_pools:
        pool_targets: list[routing.Target] = []
        for spec in pool.providers:
            api_key = loaded.secrets.get(spec.api_key_file) if spec.api_key_file else None
            provider = registry.create(spec, api_key)
            providers[(pool.name, spec.name)] = provider
            health = routing.Health()
            for model in spec.models:
                key = (pool.name, spec.name, model.name)
                kept = _kept_state(previous, key, pool, spec)
                state_breaker, latency, recent = kept or (
                    breaker.CircuitBreaker(
                        pool.circuit_breaker, on_change=_gauge_setter(metrics, key)
                    ),
                    routing.Ewma(),
                    window.Window(),
                )
                metrics.circuit_state.labels(*key).set(int(state_breaker.state))
                price = model.price
                per_million = float(price.input_per_million_tokens) + float(
                    price.output_per_million_tokens
                )
                pool_targets.append(
                    routing.Target(
                        pool=pool.name,
                        provider=provider,
                        model=model,
                        priority=spec.priority,
                        weight=spec.weight,
                        price=per_million,
                        breaker=state_breaker,
                        latency=latency,
                        health=health,
                        window=recent,
                    )
                )
        targets.extend(pool_targets)
        for kind in ("chat", "completion", "embedding"):
            for name in sorted(pool.model_names()):
                serving = [
                    t for t in pool_targets if t.model.name == name and kind in t.model.kinds
                ]
                if serving:
                    routes[(kind, name)] = routing.build_route(
                        name, pool.name, pool.routing.strategy, serving
                    )
    models_body, model_bodies = _model_listing(gateway_config)
    vector_stores = gateway_config.vector_stores
    vector_store_secrets: tuple[str | None, str | None] = (None, None)
    if vector_stores is not None:
        vector_store_secrets = (
            loaded.secrets.get(vector_stores.api_key_file) if vector_stores.api_key_file else None,
            loaded.secrets.get(vector_stores.ca_file) if vector_stores.ca_file else None,
        )
    return Runtime(
        generation=generation,
        config=gateway_config,
        keys=keys,
        providers=providers,
        routes=routes,
        targets=targets,
        models_body=models_body,
        model_bodies=model_bodies,
        limiter=limiter,
        responses=responses,
        vector_store_secrets=vector_store_secrets,
    )


def _kept_state(
    previous: Runtime | None, key: _StateKey, pool: config.ProviderPool, spec: config.Provider
) -> _Kept | None:
    """Keep a breaker, latency average and recent window across a reload when what they
    describe is unchanged."""
    if previous is None:
        return None
    old_pool = next((p for p in previous.config.provider_pools if p.name == pool.name), None)
    old_spec = (
        next((p for p in old_pool.providers if p.name == spec.name), None) if old_pool else None
    )
    if old_pool is None or old_spec is None:
        return None
    if old_pool.circuit_breaker != pool.circuit_breaker:
        return None
    same_upstream = (old_spec.type, old_spec.effective_base_url, old_spec.api_key_file) == (
        spec.type,
        spec.effective_base_url,
        spec.api_key_file,
    )
    return previous.breaker_state(key) if same_upstream else None


def _gauge_setter(metrics: metrics.Metrics, key: _StateKey) -> Callable[[breaker.State], None]:
    gauge = metrics.circuit_state.labels(*key)

    def set_state(state: breaker.State) -> None:
        gauge.set(int(state))

    return set_state


def _model_listing(gateway_config: config.GatewayConfig) -> tuple[bytes, dict[str, bytes]]:
    created = int(time.time())
    entries: dict[str, dict[str, object]] = {}
    for pool in gateway_config.provider_pools:
        for name in sorted(pool.model_names()):
            entries[name] = {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": pool.name,
            }
    listing = {"object": "list", "data": [entries[name] for name in sorted(entries)]}
    return orjson.dumps(listing), {name: orjson.dumps(entry) for name, entry in entries.items()}
