"""The Gateway's typed spec and status: an OpenAI-compatible API in front of ProviderPools, with
operator-issued keys. Pure data; the CRD is generated from it."""

from __future__ import annotations

import datetime
from typing import Literal

import pydantic

from runestone_gateway import config
from runestone_operator.core import kinds
from runestone_operator.core import models as common

KIND = kinds.GATEWAY.name

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]

NAME_RULE = common.cel(
    "self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    "a Gateway name must be a DNS label starting with a letter (at most 63 characters), "
    "because its Service takes the same name",
)


class KeyLimits(common.Model):
    """Per-key limits; unset means unlimited."""

    requests_per_minute: int | None = pydantic.Field(default=None, ge=1)
    tokens_per_minute: int | None = pydantic.Field(default=None, ge=1)
    """Prompt plus completion tokens."""
    max_concurrent_requests: int | None = pydantic.Field(default=None, ge=1)


class KeyBudget(common.Model):
    """A spending cap in US dollars per calendar period (UTC), from the model price table."""

    usd: common.DecimalString
    period: config.BudgetPeriod = "monthly"
    """`total` never resets."""


class ApiKey(common.Model):
    """An API key the operator issues into the Secret `<gateway>-key-<name>`."""

    name: common.DnsLabel
    """Names the key in logs, metrics and its Secret; never the key itself."""
    models: list[config.ModelName] = pydantic.Field(
        default_factory=lambda: ["*"],
        min_length=1,
        max_length=256,
        json_schema_extra={**common.LIST_SET, "default": ["*"]},
    )
    """Model names this key may use; "*" allows every model."""
    limits: KeyLimits = pydantic.Field(
        default_factory=KeyLimits, json_schema_extra=common.default_object(KeyLimits)
    )
    budget: KeyBudget | None = None
    expires_at: datetime.datetime | None = None
    """After this instant the gateway refuses the key (RFC 3339, e.g. "2027-01-01T00:00:00Z")."""


class Autoscaling(common.Model):
    """A HorizontalPodAutoscaler on CPU utilisation; it owns the replica count when set."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=common.validations(
            common.cel(
                "self.minReplicas <= self.maxReplicas",
                "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
            )
        )
    )

    min_replicas: int = pydantic.Field(default=2, ge=1, le=1000)
    max_replicas: int = pydantic.Field(ge=1, le=1000)
    target_cpu_utilization_percentage: int = pydantic.Field(
        default=70, ge=1, le=100, alias="targetCPUUtilizationPercentage"
    )


class RateLimitStore(common.Model):
    """Where per-key counters (rate limits, concurrency and budgets) live: `local`, in each
    replica, which is exact for one replica only (N replicas allow N times every limit and
    budget, and what a key spent is forgotten when its pod restarts); or `redis`, shared by
    every replica and kept across restarts. Pick `redis` for more than one replica or an
    autoscaler; the Gateway's `LimitsShared` condition says which applies."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=common.validations(
            common.cel(
                "self.type != 'redis' || (has(self.url) != has(self.urlSecretRef))",
                "a redis rateLimitStore needs exactly one of url or urlSecretRef",
            ),
            common.cel(
                "self.type == 'redis' || (!has(self.url) && !has(self.urlSecretRef))",
                "url and urlSecretRef apply only to a redis rateLimitStore",
            ),
        )
    )

    type: Literal["local", "redis"] = "local"
    url: str | None = pydantic.Field(default=None, max_length=2048, pattern=r"^rediss?://[^\s@]+$")
    """Redis URL without credentials, e.g. "redis://redis.infra.svc:6379/0"."""
    url_secret_ref: common.SecretKeySelector | None = None
    """A Secret key holding the Redis URL (use it when the URL carries a password)."""
    fail_mode: Literal["open", "closed"] = "open"
    """When Redis is unreachable: `open` serves without limits, `closed` refuses with 503."""

    def shared(self) -> bool:
        """Counters (limits and budgets) shared by every replica and kept across restarts."""
        return self.type == "redis"


class ServiceMonitor(common.Model):
    """A Prometheus Operator ServiceMonitor `<name>-metrics` that scrapes the metrics Service.
    Needs the ServiceMonitor CRD (monitoring.coreos.com/v1); without it the Gateway is Degraded
    (`ServiceMonitorUnavailable`) and everything else is still applied."""

    enabled: bool = False
    interval: common.Duration = "30s"
    labels: dict[str, str] = pydantic.Field(default_factory=dict, max_length=16)
    """Labels your Prometheus selects ServiceMonitors by (its `serviceMonitorSelector`)."""


class Metrics(common.Model):
    """Prometheus metrics of the gateway and its sidecar, on the Service `<name>-metrics`, apart
    from the client Service."""

    service_monitor: ServiceMonitor = pydantic.Field(
        default_factory=ServiceMonitor, json_schema_extra=common.default_object(ServiceMonitor)
    )


class NetworkPolicy(common.Model):
    """The NetworkPolicy `<name>` in front of the gateway pods: the API port from
    `apiFromNamespaces`, the metrics ports (gateway and sidecar) from `metricsFromNamespaces`,
    nothing else (the kubelet's probes are always admitted)."""

    enabled: bool = True
    api_from_namespaces: list[common.DnsLabel] = pydantic.Field(
        default_factory=list, max_length=64, json_schema_extra=common.LIST_SET
    )
    """Namespaces whose pods may call the API; empty (the default): any client, in the cluster
    or outside it (a LoadBalancer's)."""
    metrics_from_namespaces: list[common.DnsLabel] = pydantic.Field(
        default_factory=lambda: ["monitoring"],
        max_length=64,
        json_schema_extra={**common.LIST_SET, "default": ["monitoring"]},
    )
    """Namespaces whose pods may scrape the metrics (your Prometheus's); empty: none."""


class Service(common.Model):
    """The Service in front of the gateway pods."""

    type: ServiceType = "ClusterIP"
    port: int | None = pydantic.Field(default=None, ge=1, le=65535)
    """The API port; 443 with TLS, 80 without, when unset."""


class GatewaySpec(common.Model):
    """An OpenAI-compatible HTTP API in front of one or more ProviderPools."""

    provider_pools: list[common.LocalObjectReference] = pydantic.Field(
        min_length=1, max_length=16, json_schema_extra=common.list_map("name")
    )
    """The ProviderPools (same namespace) this gateway serves; a model belongs to one pool."""
    replicas: int = pydantic.Field(default=2, ge=1, le=1000)
    """Pod count when autoscaling is not set."""
    autoscaling: Autoscaling | None = None
    api_keys: list[ApiKey] = pydantic.Field(
        default_factory=list, max_length=256, json_schema_extra=common.list_map("name")
    )
    """Keys the operator issues; removing one revokes it."""
    key_rotation: common.KeyRotation = pydantic.Field(
        default_factory=common.KeyRotation,
        json_schema_extra=common.default_object(common.KeyRotation),
    )
    """How key rotation behaves. Rotate a key by setting the annotation
    `rotate-key.runestone.dev/<key name>` on the Gateway to a new value (any token, e.g. a
    timestamp); the operator issues a new key and keeps the old one valid for `gracePeriod`."""
    rate_limit_store: RateLimitStore = pydantic.Field(
        default_factory=RateLimitStore, json_schema_extra=common.default_object(RateLimitStore)
    )
    tls: common.Tls = pydantic.Field(
        default_factory=common.Tls, json_schema_extra=common.default_object(common.Tls)
    )
    """How the gateway serves HTTPS."""
    service: Service = pydantic.Field(
        default_factory=Service, json_schema_extra=common.default_object(Service)
    )
    metrics: Metrics = pydantic.Field(
        default_factory=Metrics, json_schema_extra=common.default_object(Metrics)
    )
    network_policy: NetworkPolicy = pydantic.Field(
        default_factory=NetworkPolicy, json_schema_extra=common.default_object(NetworkPolicy)
    )
    image: str | None = pydantic.Field(default=None, min_length=1, max_length=1024)
    """Container image; the operator's own image when unset."""
    resources: common.Resources | None = None
    """Resources of the gateway container."""
    log_prompts: bool = False
    """Log request messages. Off by default: prompts can hold personal data."""
    deletion_policy: Literal["Retain", "Delete"] = "Retain"
    """What deleting the Gateway does to its API keys and CA. `Retain` (the default) keeps the
    key Secrets `<name>-key-<key>` and the CA (`<name>-ca-key`, `<name>-ca`), without an owner:
    a Gateway re-created under the same name adopts them, so every client's key and trust keep
    working (a mistaken delete or a GitOps prune revokes nothing). `Delete` deletes them with the
    Gateway. Everything else (pods, config, key table, serving certificate) goes either way."""

    def max_replicas(self) -> int:
        """The most pods that may run at once: the autoscaler's maximum, else `replicas`."""
        return self.autoscaling.max_replicas if self.autoscaling else self.replicas


class GatewayStatus(common.Status):
    """What the operator observed about the gateway."""

    url: str | None = None
    """In-cluster URL of the API, e.g. "https://main.ns.svc:443"."""
    replicas: int | None = None
    """Pods the Deployment wants."""
    ready_replicas: int | None = None
    """Pods whose containers are ready and whose readiness gate is True."""
    api_keys: common.ApiKeyStatuses
