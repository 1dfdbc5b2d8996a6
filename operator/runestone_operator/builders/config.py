"""The gateway's config file, rendered with the gateway's own schema (`runestone_gateway.config`)
from a Gateway and the ProviderPools it names, and the ConfigMap that carries it.

The file names secrets only by path: provider keys, the key table, the Redis URL and the TLS pair
are mounted files the gateway re-reads when they change."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from runestone_gateway import config
from runestone_operator import names
from runestone_operator.builders import meta
from runestone_operator.models import gateway, providerpool


@dataclass(frozen=True)
class Pool:
    """A ProviderPool as a Gateway sees it: its name and its spec."""

    name: str
    spec: providerpool.ProviderPoolSpec


@dataclass(frozen=True)
class SecretMount:
    """One key of a Secret mounted as a file, never copied anywhere."""

    volume: str
    secret_name: str
    key: str
    directory: str

    @property
    def path(self) -> str:
        return f"{self.directory}/{self.key}"


def provider_mounts(pools: Sequence[Pool]) -> list[SecretMount]:
    """The credential Secrets of every provider, each mounted at its own directory."""
    mounts = []
    for pool in pools:
        for provider in pool.spec.providers:
            ref = provider.api_key_secret_ref
            if ref is None:
                continue
            mounts.append(
                SecretMount(
                    volume=_volume_name("provider", pool.name, provider.name),
                    secret_name=ref.name,
                    key=ref.key,
                    directory=names.provider_key_dir(pool.name, provider.name),
                )
            )
    return mounts


def redis_mount(spec: gateway.GatewaySpec) -> SecretMount | None:
    ref = spec.rate_limit_store.url_secret_ref
    if ref is None:
        return None
    return SecretMount("redis-url", ref.name, ref.key, names.REDIS_DIR)


def _volume_name(*parts: str) -> str:
    """A volume name (a DNS label) from readable parts, shortened with a digest when too long."""
    name = "-".join(parts)
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:52]}-{digest}"


def _provider(pool: Pool, provider: providerpool.Provider) -> config.Provider:
    ref = provider.api_key_secret_ref
    key_file = f"{names.provider_key_dir(pool.name, provider.name)}/{ref.key}" if ref else None
    return config.Provider(
        name=provider.name,
        type=provider.type,
        base_url=provider.base_url,
        api_key_file=key_file,
        priority=provider.priority,
        weight=provider.weight,
        timeout_seconds=float(provider.timeout_seconds),
        models=[
            config.Model(
                name=model.name,
                upstream_model=model.upstream_model,
                kinds=list(model.kinds),
                price=config.Price(
                    input_per_million_tokens=model.price.input_per_million_tokens,
                    output_per_million_tokens=model.price.output_per_million_tokens,
                ),
            )
            for model in provider.models
        ],
    )


def pool_config(pool: Pool) -> config.ProviderPool:
    """One ProviderPool in the gateway's schema; raises pydantic.ValidationError when the gateway
    would refuse it."""
    spec = pool.spec
    return config.ProviderPool(
        name=pool.name,
        routing=config.Routing(strategy=spec.routing.strategy),
        circuit_breaker=config.CircuitBreaker(
            failure_threshold=spec.circuit_breaker.failure_threshold,
            open_seconds=float(spec.circuit_breaker.open_seconds),
            half_open_requests=spec.circuit_breaker.half_open_requests,
        ),
        health_check=config.HealthCheck(
            interval_seconds=float(spec.health_check.interval_seconds),
            timeout_seconds=float(spec.health_check.timeout_seconds),
        ),
        providers=[_provider(pool, provider) for provider in spec.providers],
    )


def gateway_config(
    spec: gateway.GatewaySpec, pools: Sequence[Pool], *, tls: bool
) -> config.GatewayConfig:
    """The whole config file; raises pydantic.ValidationError when the gateway would refuse it
    (for example a model served by two pools)."""
    store = spec.rate_limit_store
    redis = redis_mount(spec)
    return config.GatewayConfig(
        server=config.Server(
            log_prompts=spec.log_prompts,
            tls=(
                config.Tls(
                    cert_file=f"{names.TLS_DIR}/tls.crt", key_file=f"{names.TLS_DIR}/tls.key"
                )
                if tls
                else None
            ),
        ),
        auth=config.Auth(key_table_file=f"{names.KEYS_DIR}/{names.KEY_TABLE_FILE}"),
        limits=config.Limits(
            store=config.RateLimitStore(
                type=store.type,
                url=store.url,
                url_file=redis.path if redis else None,
                fail_mode=store.fail_mode,
            )
        ),
        provider_pools=[pool_config(pool) for pool in pools],
    )


def render(document: config.GatewayConfig | config.KeyTable) -> str:
    """YAML text of a config document, byte-for-byte stable for equal input."""
    return yaml.safe_dump(document.to_document(), sort_keys=True)


def config_map(owner: meta.Owner, rendered: config.GatewayConfig) -> meta.Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta.object_meta(owner, names.config_map(owner.name)),
        "data": {names.CONFIG_FILE: render(rendered)},
    }
