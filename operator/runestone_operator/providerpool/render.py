"""A ProviderPool in the gateway's own config schema (`runestone_gateway.config`), and the
Secret keys its providers' API keys come from. Pure: a spec in, a `core.peers.PoolView` out;
pydantic.ValidationError when the gateway would refuse the pool."""

from __future__ import annotations

from runestone_gateway import config
from runestone_operator.core import names, peers
from runestone_operator.providerpool import model


def _provider(pool: str, provider: model.Provider) -> config.Provider:
    ref = provider.api_key_secret_ref
    key_file = f"{names.provider_key_dir(pool, provider.name)}/{ref.key}" if ref else None
    return config.Provider(
        name=provider.name,
        type=provider.type,
        base_url=provider.base_url,
        api_key_file=key_file,
        priority=provider.priority,
        weight=provider.weight,
        timeout_seconds=float(provider.timeout_seconds),
        api=provider.api,
        models=[
            config.Model(
                name=served.name,
                upstream_model=served.upstream_model,
                kinds=list(served.kinds),
                price=config.Price(
                    input_per_million_tokens=served.price.input_per_million_tokens,
                    output_per_million_tokens=served.price.output_per_million_tokens,
                    cache_read_input_per_million_tokens=(
                        served.price.cache_read_input_per_million_tokens
                    ),
                    cache_write_input_per_million_tokens=(
                        served.price.cache_write_input_per_million_tokens
                    ),
                ),
            )
            for served in provider.models
        ],
    )


def pool_config(name: str, spec: model.ProviderPoolSpec) -> config.ProviderPool:
    """The pool in the gateway's schema; raises pydantic.ValidationError when the gateway would
    refuse it."""
    return config.ProviderPool(
        name=name,
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
        providers=[_provider(name, provider) for provider in spec.providers],
    )


def view(name: str, spec: model.ProviderPoolSpec) -> peers.PoolView:
    """What a Gateway reads of the pool; raises pydantic.ValidationError as `pool_config`."""
    credentials = tuple(
        peers.Credential(provider.name, provider.api_key_secret_ref)
        for provider in spec.providers
        if provider.api_key_secret_ref is not None
    )
    return peers.PoolView(name, pool_config(name, spec), credentials)
