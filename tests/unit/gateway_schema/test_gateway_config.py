"""The config schema the operator renders and the gateway reads."""

from __future__ import annotations

import decimal
from typing import Any

import pydantic
import pytest

from runestone_gateway import config


def document(**pool_extra: Any) -> dict[str, Any]:
    return {
        "providerPools": [
            {
                "name": "default",
                "providers": [
                    {
                        "name": "openai",
                        "type": "openai",
                        "baseURL": "https://api.openai.com/v1",
                        "apiKeyFile": "/secrets/openai/api-key",
                        "priority": 0,
                        "weight": 100,
                        "timeoutSeconds": 60,
                        "models": [
                            {
                                "name": "gpt-4o-mini",
                                "upstreamModel": "gpt-4o-mini",
                                "kinds": ["chat"],
                                "price": {
                                    "inputPerMillionTokens": "0.15",
                                    "outputPerMillionTokens": "0.60",
                                },
                            }
                        ],
                    },
                    {
                        "name": "local-vllm",
                        "type": "openai",
                        "baseURL": "http://vllm.models.svc:8000/v1",
                        "priority": 1,
                        "models": [
                            {"name": "gpt-4o-mini", "upstreamModel": "Qwen/Qwen2.5-7B-Instruct"}
                        ],
                    },
                ],
                **pool_extra,
            }
        ]
    }


def test_the_design_example_validates_and_round_trips() -> None:
    parsed = config.GatewayConfig.model_validate(
        document(
            routing={"strategy": "least-latency"},
            circuitBreaker={"failureThreshold": 5, "openSeconds": 30, "halfOpenRequests": 1},
            healthCheck={"intervalSeconds": 15, "timeoutSeconds": 5},
        )
    )
    pool = parsed.provider_pools[0]
    assert pool.routing.strategy == "least-latency"
    assert pool.providers[1].models[0].upstream_name == "Qwen/Qwen2.5-7B-Instruct"
    assert parsed.secret_files() == ["/secrets/openai/api-key"]
    rendered = parsed.to_document()
    assert rendered["providerPools"][0]["providers"][0]["baseURL"] == "https://api.openai.com/v1"
    assert rendered["providerPools"][0]["circuitBreaker"]["failureThreshold"] == 5
    assert config.GatewayConfig.model_validate(rendered) == parsed


def test_defaults() -> None:
    parsed = config.GatewayConfig.model_validate(document())
    assert parsed.server.max_body_bytes == 10 * 1024 * 1024
    assert parsed.server.log_prompts is False
    pool = parsed.provider_pools[0]
    assert pool.routing.strategy == "weighted"
    assert pool.circuit_breaker.failure_threshold == 5
    vllm = pool.providers[1]
    assert vllm.models[0].kinds == ["chat"]
    assert vllm.weight == 100
    assert parsed.auth.key_table_file is None
    server = parsed.server
    assert (server.body_timeout_seconds, server.body_min_bytes_per_second) == (30.0, 4096)
    assert server.buffered_body_limit == 64 * 1024 * 1024


def test_the_bound_on_buffered_bodies_holds_at_least_one_whole_body() -> None:
    assert config.Server(max_body_bytes=100 * 1024 * 1024).buffered_body_limit == 100 * 1024 * 1024
    assert config.Server(max_buffered_body_bytes=20 * 1024 * 1024).buffered_body_limit == (
        20 * 1024 * 1024
    )
    reject(
        {**document(), "server": {"maxBodyBytes": 4096, "maxBufferedBodyBytes": 2048}},
        "maxBufferedBodyBytes must be at least maxBodyBytes",
    )
    reject({**document(), "server": {"bodyTimeoutSeconds": 0}}, "bodyTimeoutSeconds")


def test_prices_stay_decimal() -> None:
    price = config.Price(input_per_million_tokens="0.15", output_per_million_tokens="0.60")
    assert price.cost(1_000_000, 500_000) == decimal.Decimal("0.45")


def test_the_upstream_api_defaults_by_type_and_is_checked() -> None:
    parsed = config.GatewayConfig.model_validate(document())
    openai = parsed.provider_pools[0].providers[0]
    assert (openai.api, openai.effective_api) == (None, "chatCompletions")
    speaking = document()
    speaking["providerPools"][0]["providers"][0]["api"] = "responses"
    parsed = config.GatewayConfig.model_validate(speaking)
    assert parsed.provider_pools[0].providers[0].effective_api == "responses"
    claude = {
        "name": "claude",
        "type": "anthropic",
        "models": [{"name": "claude-x"}],
    }
    with_claude = document()
    with_claude["providerPools"][0]["providers"].append(claude)
    parsed = config.GatewayConfig.model_validate(with_claude)
    assert parsed.provider_pools[0].providers[2].effective_api == "messages"
    claude["api"] = "responses"
    reject(with_claude, "anthropic providers speak messages")


def test_stored_responses_are_kept_thirty_days_unless_set() -> None:
    assert config.GatewayConfig.model_validate(document()).stored_responses.retention_seconds == (
        30 * 24 * 3600
    )
    parsed = config.GatewayConfig.model_validate(
        {**document(), "storedResponses": {"retentionSeconds": 3600}}
    )
    assert parsed.stored_responses.retention_seconds == 3600
    reject({**document(), "storedResponses": {"retentionSeconds": 0}}, "retentionSeconds")


def reject(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        config.GatewayConfig.model_validate(data)
    assert fragment in str(raised.value)


def test_unknown_fields_and_bad_values_are_refused() -> None:
    reject({**document(), "extra": 1}, "extra")
    reject(document(routing={"strategy": "round-robin"}), "strategy")
    reject(document(circuitBreaker={"failureThreshold": 0}), "failureThreshold")
    bad_price = document()
    bad_price["providerPools"][0]["providers"][0]["models"][0]["price"]["inputPerMillionTokens"] = (
        "-1"
    )
    reject(bad_price, "inputPerMillionTokens")
    reject({"providerPools": []}, "providerPools")


def test_anthropic_cannot_serve_embeddings() -> None:
    data = document()
    data["providerPools"][0]["providers"][0].update(type="anthropic")
    data["providerPools"][0]["providers"][0]["models"][0]["kinds"] = ["embedding"]
    reject(data, "anthropic providers cannot serve ['embedding']")


def test_mock_takes_no_url_or_key() -> None:
    data = document()
    data["providerPools"][0]["providers"][0]["type"] = "mock"
    reject(data, "mock provider takes neither baseURL nor apiKeyFile")


def test_names_repeat_nowhere() -> None:
    data = document()
    data["providerPools"][0]["providers"][1]["name"] = "openai"
    reject(data, "provider names repeat")
    two_pools = document()
    two_pools["providerPools"].append({**two_pools["providerPools"][0], "name": "second"})
    reject(two_pools, "is served by pools 'default' and 'second'")


def test_mock_config_serves_chat_completion_and_embeddings() -> None:
    served = {
        (model.name, kind)
        for pool in config.mock_config().provider_pools
        for provider in pool.providers
        for model in provider.models
        for kind in model.kinds
    }
    assert served == {
        ("mock-chat", "chat"),
        ("mock-chat", "completion"),
        ("mock-embedding", "embedding"),
    }
