"""The config file is rendered with the gateway's own schema and names secrets only by path; a
ProviderPool reaches it as the view its own kind renders (`providerpool.render`)."""

from __future__ import annotations

import pydantic
import pytest
import yaml

from runestone_gateway import config
from runestone_operator.core import meta
from runestone_operator.gateway import model as gateway
from runestone_operator.gateway.builders import config as config_builder
from runestone_operator.providerpool import model as providerpool
from runestone_operator.providerpool import render


def _render(
    spec: gateway.GatewaySpec, pool: providerpool.ProviderPoolSpec, *, tls: bool = True
) -> config.GatewayConfig:
    return config_builder.gateway_config(spec, [render.view("default", pool)], tls=tls)


def test_pools_render_into_the_gateway_schema(
    gateway_spec: gateway.GatewaySpec, pool_spec: providerpool.ProviderPoolSpec
) -> None:
    rendered = _render(gateway_spec, pool_spec)
    pool = rendered.provider_pools[0]
    assert pool.name == "default"
    openai, local = pool.providers
    assert openai.api_key_file == "/etc/runestone/providers/default/openai/api-key"
    assert openai.models[0].price.input_per_million_tokens == "0.15"
    assert local.api_key_file is None
    assert local.priority == 1
    assert local.models[0].upstream_name == "Qwen/Qwen2.5-7B"
    assert rendered.auth.key_table_file == "/etc/runestone/keys/keys.yaml"
    assert rendered.server.tls == config.Tls(
        cert_file="/etc/runestone/tls/tls.crt", key_file="/etc/runestone/tls/tls.key"
    )


def test_plain_http_has_no_tls_files(
    gateway_spec: gateway.GatewaySpec, pool_spec: providerpool.ProviderPoolSpec
) -> None:
    assert _render(gateway_spec, pool_spec, tls=False).server.tls is None


def test_config_map_round_trips_and_is_stable(
    owner: meta.Owner,
    gateway_spec: gateway.GatewaySpec,
    pool_spec: providerpool.ProviderPoolSpec,
) -> None:
    first = config_builder.config_map(owner, _render(gateway_spec, pool_spec))
    second = config_builder.config_map(owner, _render(gateway_spec, pool_spec))
    assert first == second
    assert first["metadata"]["name"] == "main-config"
    text = first["data"]["config.yaml"]
    parsed = config.GatewayConfig.model_validate(yaml.safe_load(text))
    assert parsed == _render(gateway_spec, pool_spec)
    assert "openai-creds" not in text  # Secrets are mounted files, never named in the config


def test_redis_url_from_a_secret_is_a_mounted_file(
    pool_spec: providerpool.ProviderPoolSpec,
) -> None:
    spec = gateway.GatewaySpec.model_validate(
        {
            "providerPools": [{"name": "default"}],
            "rateLimitStore": {"type": "redis", "urlSecretRef": {"name": "redis", "key": "url"}},
        }
    )
    rendered = _render(spec, pool_spec)
    assert rendered.limits.store.url_file == "/etc/runestone/redis/url"
    mount = config_builder.redis_mount(spec)
    assert mount is not None
    assert (mount.secret_name, mount.key, mount.path) == (
        "redis",
        "url",
        "/etc/runestone/redis/url",
    )


def test_provider_mounts_name_one_key_each(pool_spec: providerpool.ProviderPoolSpec) -> None:
    mounts = config_builder.provider_mounts([render.view("default", pool_spec)])
    assert len(mounts) == 1
    mount = mounts[0]
    assert mount.secret_name == "openai-creds"
    assert mount.directory == "/etc/runestone/providers/default/openai"
    assert mount.volume == "provider-default-openai"


def test_long_volume_names_are_shortened_stably() -> None:
    pool = providerpool.ProviderPoolSpec.model_validate(
        {
            "providers": [
                {
                    "name": "p" * 60,
                    "type": "openai",
                    "baseURL": "http://x",
                    "apiKeySecretRef": {"name": "s", "key": "k"},
                    "models": [{"name": "m"}],
                }
            ]
        }
    )
    first = config_builder.provider_mounts([render.view("pool", pool)])[0].volume
    again = config_builder.provider_mounts([render.view("pool", pool)])[0].volume
    assert first == again
    assert len(first) <= 63


def test_a_model_in_two_pools_is_refused(
    gateway_spec: gateway.GatewaySpec, pool_spec: providerpool.ProviderPoolSpec
) -> None:
    with pytest.raises(pydantic.ValidationError, match="served by pools"):
        config_builder.gateway_config(
            gateway_spec,
            [render.view("a", pool_spec), render.view("b", pool_spec)],
            tls=True,
        )


def test_upstream_apis_cache_prices_and_retention_are_rendered(
    pool_spec: providerpool.ProviderPoolSpec,
) -> None:
    pool = providerpool.ProviderPoolSpec.model_validate(
        {
            "providers": [
                {
                    "name": "openai",
                    "type": "openai",
                    "baseURL": "https://api.openai.com/v1",
                    "api": "responses",
                    "models": [
                        {
                            "name": "gpt-4o-mini",
                            "price": {
                                "inputPerMillionTokens": "0.15",
                                "cacheReadInputPerMillionTokens": "0.075",
                            },
                        }
                    ],
                },
                {
                    "name": "claude",
                    "type": "anthropic",
                    "baseURL": "https://api.anthropic.com",
                    "models": [
                        {
                            "name": "claude-sonnet",
                            "price": {
                                "inputPerMillionTokens": "3",
                                "cacheReadInputPerMillionTokens": "0.3",
                                "cacheWriteInputPerMillionTokens": "3.75",
                            },
                        }
                    ],
                },
            ]
        }
    )
    default = gateway.GatewaySpec.model_validate({"providerPools": [{"name": "default"}]})
    rendered = _render(default, pool)
    assert rendered.stored_responses.retention_seconds == 30 * 24 * 3600
    openai, claude = rendered.provider_pools[0].providers
    assert (openai.effective_api, claude.effective_api) == ("responses", "messages")
    assert openai.models[0].price.cache_read == "0.075"
    assert openai.models[0].price.cache_write == "0.15"  # the input price, unset
    assert (claude.models[0].price.cache_read, claude.models[0].price.cache_write) == (
        "0.3",
        "3.75",
    )
    kept_a_day = gateway.GatewaySpec.model_validate(
        {"providerPools": [{"name": "default"}], "storedResponses": {"retention": "24h"}}
    )
    assert _render(kept_a_day, pool_spec).stored_responses.retention_seconds == 86400


def test_request_body_bounds_are_rendered_with_the_gateways_defaults(
    pool_spec: providerpool.ProviderPoolSpec,
) -> None:
    default = gateway.GatewaySpec.model_validate({"providerPools": [{"name": "default"}]})
    assert _render(default, pool_spec).server == config.Server(
        tls=_render(default, pool_spec).server.tls
    )
    bounded = gateway.GatewaySpec.model_validate(
        {
            "providerPools": [{"name": "default"}],
            "requestBodies": {
                "maxBytes": 2 * 1024 * 1024,
                "timeoutSeconds": 10,
                "minBytesPerSecond": 1024,
                "maxBufferedBytes": 32 * 1024 * 1024,
            },
        }
    )
    server = _render(bounded, pool_spec).server
    assert (
        server.max_body_bytes,
        server.body_timeout_seconds,
        server.body_min_bytes_per_second,
        server.buffered_body_limit,
    ) == (2 * 1024 * 1024, 10, 1024, 32 * 1024 * 1024)
