"""Shared inputs for the operator's unit tests: an owner and typical specs."""

from __future__ import annotations

import pytest

from runestone_operator.core import kinds, meta
from runestone_operator.gateway import model as gateway
from runestone_operator.providerpool import model as providerpool


@pytest.fixture
def owner() -> meta.Owner:
    return meta.Owner(kinds.API_VERSION, "Gateway", "team", "main", "uid-1234")


@pytest.fixture
def pool_spec() -> providerpool.ProviderPoolSpec:
    return providerpool.ProviderPoolSpec.model_validate(
        {
            "providers": [
                {
                    "name": "openai",
                    "type": "openai",
                    "baseURL": "https://api.openai.com/v1",
                    "apiKeySecretRef": {"name": "openai-creds", "key": "api-key"},
                    "models": [
                        {
                            "name": "gpt-4o-mini",
                            "kinds": ["chat"],
                            "price": {"inputPerMillionTokens": "0.15"},
                        }
                    ],
                },
                {
                    "name": "local",
                    "type": "openai",
                    "baseURL": "http://vllm.models.svc:8000/v1",
                    "priority": 1,
                    "models": [{"name": "gpt-4o-mini", "upstreamModel": "Qwen/Qwen2.5-7B"}],
                },
            ]
        }
    )


@pytest.fixture
def gateway_spec() -> gateway.GatewaySpec:
    return gateway.GatewaySpec.model_validate(
        {
            "providerPools": [{"name": "default"}],
            "replicas": 2,
            "apiKeys": [
                {
                    "name": "team-a",
                    "models": ["gpt-4o-mini"],
                    "limits": {"requestsPerMinute": 600},
                    "budget": {"usd": "100"},
                    "expiresAt": "2027-01-01T00:00:00Z",
                },
                {"name": "team-b"},
            ],
        }
    )
