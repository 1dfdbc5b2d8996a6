"""The ProviderPool's typed spec and status: where models come from, with failover tiers, weights,
prices and breakers. Pure data; the CRD is generated from it. Provider types, endpoint kinds and
routing strategies are the gateway's own (`runestone_gateway.config`), so a pool the CRD accepts
names only what the gateway knows."""

from __future__ import annotations

from typing import Literal

import pydantic

from runestone_gateway import config
from runestone_operator.core import kinds
from runestone_operator.core import models as common

KIND = kinds.PROVIDER_POOL.name


class Price(common.Model):
    """What one million tokens cost at this provider, in US dollars."""

    input_per_million_tokens: common.DecimalString = "0"
    """Price of one million prompt tokens, e.g. "0.15"."""
    output_per_million_tokens: common.DecimalString = "0"
    """Price of one million completion tokens, e.g. "0.60"."""
    cache_read_input_per_million_tokens: common.DecimalString | None = None
    """Price of one million prompt tokens read from the provider's prompt cache (OpenAI's
    cached tokens, Anthropic's cache reads), e.g. "0.075"; the input price when unset."""
    cache_write_input_per_million_tokens: common.DecimalString | None = None
    """Price of one million prompt tokens written to the provider's prompt cache (Anthropic's
    cache creation), e.g. "3.75"; the input price when unset."""


class Model(common.Model):
    """One model a provider serves, under the name clients ask for."""

    name: config.ModelName
    """The name clients send in `model`, e.g. "gpt-4o-mini"."""
    upstream_model: config.ModelName | None = None
    """The name the upstream knows it by; the client-facing name when unset."""
    kinds: list[config.Kind] = pydantic.Field(
        default_factory=lambda: list[config.Kind](["chat"]),
        min_length=1,
        max_length=3,
        json_schema_extra={**common.LIST_SET, "default": ["chat"]},
    )
    """Which endpoints may use it: chat, completion, embedding."""
    price: Price = pydantic.Field(
        default_factory=Price, json_schema_extra=common.default_object(Price)
    )
    """Per-token prices, used by the `cost` routing strategy and the cost metric."""


class Provider(common.Model):
    """One upstream: an OpenAI-compatible server, Anthropic, or the built-in mock."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=common.validations(
            common.cel(
                "self.type == 'mock' || has(self.baseURL)",
                "baseURL is required unless type is mock",
            ),
            common.cel(
                "self.type != 'mock' || (!has(self.baseURL) && !has(self.apiKeySecretRef))",
                "a mock provider takes neither baseURL nor apiKeySecretRef",
            ),
            common.cel(
                "self.type != 'anthropic' || self.models.all(m, !('embedding' in m.kinds))",
                "anthropic providers cannot serve embedding models",
            ),
            common.cel(
                "!has(self.api) || self.type == 'openai'",
                "api applies only to openai providers (anthropic speaks messages, the mock "
                "chatCompletions)",
            ),
        )
    )

    name: common.DnsLabel
    """Unique within its pool; used in metrics, logs and the mount path of its API key."""
    type: config.ProviderType
    """`openai` (OpenAI or any OpenAI-compatible server), `anthropic`, or `mock`."""
    base_url: str | None = pydantic.Field(
        default=None, alias="baseURL", max_length=2048, pattern=r"^https?://[^\s]+$"
    )
    """Root of the upstream API, e.g. "https://api.openai.com/v1" or
    "http://vllm.models.svc:8000/v1". Required unless the type is mock."""
    api_key_secret_ref: common.SecretKeySelector | None = None
    """The Secret key holding the upstream API key; mounted into gateway pods, never copied."""
    priority: int = pydantic.Field(default=0, ge=0, le=100)
    """Failover tier: lower is tried first, one attempt per tier."""
    weight: int = pydantic.Field(default=100, ge=0, le=10000)
    """Share of traffic within its tier under the `weighted` strategy."""
    timeout_seconds: int = pydantic.Field(default=60, ge=1, le=3600)
    """Upper bound for a whole answer, or for each silence between streamed chunks."""
    api: Literal["chatCompletions", "responses"] | None = None
    """For `openai` providers, the API `/v1/responses` requests are sent in: `chatCompletions`
    (the default; vLLM, Ollama and most OpenAI-compatible servers) translates them to Chat
    Completions, `responses` (OpenAI itself) sends them through as they are. Anthropic
    providers speak Messages: `/v1/messages` requests go to them as they are."""
    models: list[Model] = pydantic.Field(
        min_length=1, max_length=64, json_schema_extra=common.list_map("name")
    )
    """The models this provider serves."""


class Routing(common.Model):
    """How a pool picks among the providers of one priority tier."""

    strategy: config.RoutingStrategy = "weighted"
    """`weighted` (random by weight), `least-latency` (lowest moving average), `cost` (cheapest)."""


class CircuitBreaker(common.Model):
    """Per provider and model: stop calling an upstream that keeps failing, then probe it."""

    failure_threshold: int = pydantic.Field(default=5, ge=1, le=1000)
    """Consecutive failures that open the circuit."""
    open_seconds: int = pydantic.Field(default=30, ge=1, le=3600)
    """How long an open circuit refuses calls before it lets probes through (half-open)."""
    half_open_requests: int = pydantic.Field(default=1, ge=1, le=100)
    """Probe calls admitted while half-open; all must succeed to close the circuit."""


class HealthCheck(common.Model):
    """Active checks of each provider, independent of client traffic."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=common.validations(
            common.cel(
                "self.timeoutSeconds <= self.intervalSeconds",
                "healthCheck.timeoutSeconds must not exceed intervalSeconds",
            )
        )
    )

    interval_seconds: int = pydantic.Field(default=15, ge=1, le=3600)
    """Time between two checks of one provider."""
    timeout_seconds: int = pydantic.Field(default=5, ge=1, le=600)
    """A check that takes longer fails."""


class ProviderPoolSpec(common.Model):
    """Providers serving a set of model names, with failover and routing."""

    providers: list[Provider] = pydantic.Field(
        min_length=1, max_length=32, json_schema_extra=common.list_map("name")
    )
    """The upstreams of this pool."""
    routing: Routing = pydantic.Field(
        default_factory=Routing, json_schema_extra=common.default_object(Routing)
    )
    circuit_breaker: CircuitBreaker = pydantic.Field(
        default_factory=CircuitBreaker, json_schema_extra=common.default_object(CircuitBreaker)
    )
    health_check: HealthCheck = pydantic.Field(
        default_factory=HealthCheck, json_schema_extra=common.default_object(HealthCheck)
    )

    def model_names(self) -> list[str]:
        """Every model name some provider of this pool serves, sorted."""
        return sorted({model.name for provider in self.providers for model in provider.models})


class ProviderPoolStatus(common.Status):
    """What the operator observed about the pool."""

    models: list[str] = pydantic.Field(
        default_factory=list, max_length=2048, json_schema_extra=common.LIST_SET
    )
    """Every model name the pool serves."""
