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
VECTOR_CLUSTER_FIELD = ".spec.vectorStores.vectorClusterRef.name"
"""A selectable field of the CRD: a VectorCluster's reconcile lists only the Gateways that name
it, as the API server selects them."""


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
    autoscaler; the Gateway's `LimitsShared` condition says which applies. A redis
    store is the gateway's shared store: stored responses (for `/v1/responses`) live there too;
    a local one stores no responses."""

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


class StoredResponses(common.Model):
    """Responses the gateway keeps for `previous_response_id` and `GET /v1/responses/{id}`, in
    the shared store (`rateLimitStore` of type redis); without one nothing is stored, and
    requests that need a stored response are refused saying so."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=common.validations(
            common.cel(
                "duration(self.retention) >= duration('1m')",
                "storedResponses.retention must be at least 1m",
            )
        )
    )

    retention: common.Duration = "720h"
    """How long a stored response is kept after it was made (30 days, as OpenAI keeps them)."""


class RequestBodies(common.Model):
    """Bounds on request bodies, per gateway process: a body that stalls or trickles is cut, and
    the bodies being read at once are bounded, so slow or hostile uploads cannot hold every
    connection or the pod's memory. The key's limits admit a request before its body is read."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=common.validations(
            common.cel(
                "!has(self.maxBufferedBytes) || self.maxBufferedBytes >= self.maxBytes",
                "requestBodies.maxBufferedBytes must be at least requestBodies.maxBytes",
            )
        )
    )

    max_bytes: int = pydantic.Field(
        default=config.DEFAULT_MAX_BODY_BYTES, ge=1024, le=1024 * 1024 * 1024
    )
    """Largest accepted request body (10 MiB); larger ones are answered 413."""
    timeout_seconds: int = pydantic.Field(default=30, ge=1, le=3600)
    """A body from which nothing arrives for this long is answered 408 and its connection
    closed; so is one that, after this long, has averaged less than `minBytesPerSecond`."""
    min_bytes_per_second: int = pydantic.Field(default=4096, ge=0)
    """The slowest a body may arrive on average once `timeoutSeconds` have passed; 0 turns the
    check off."""
    max_buffered_bytes: int | None = pydantic.Field(default=None, ge=1024, le=16 * 1024**3)
    """Bytes of request bodies one gateway process holds while they arrive, over all its
    connections; a body past it is answered 503 with Retry-After. Unset: 64 MiB, or `maxBytes`
    when that is larger. Size the container's memory limit above it."""


class Chunking(common.Model):
    """How files are cut into chunks when a client names no `chunking_strategy` (OpenAI's
    `auto`), under OpenAI's bounds."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=common.validations(
            common.cel(
                "self.chunkOverlapTokens <= self.maxChunkSizeTokens / 2",
                "vectorStores.chunking.chunkOverlapTokens must be at most half of "
                "maxChunkSizeTokens (OpenAI's rule); lower the overlap or raise the chunk size",
            )
        )
    )

    max_chunk_size_tokens: int = pydantic.Field(
        default=config.DEFAULT_MAX_CHUNK_SIZE_TOKENS,
        ge=config.MIN_CHUNK_SIZE_TOKENS,
        le=config.MAX_CHUNK_SIZE_TOKENS,
    )
    """Tokens a chunk holds at most, 100 to 4096."""
    chunk_overlap_tokens: int = pydantic.Field(default=config.DEFAULT_CHUNK_OVERLAP_TOKENS, ge=0)
    """Tokens consecutive chunks share, at most half of `maxChunkSizeTokens`."""


class VectorStores(common.Model):
    """OpenAI's Files and Vector Stores (`/v1/files`, `/v1/vector_stores`) kept in a
    VectorCluster of the same namespace. The operator issues the gateway a Weaviate key of its
    own into that cluster (an admin: the gateway writes), mounts it with the cluster's CA, and
    reports whether the link is usable in the condition `VectorStoreReady`. Until it is, those
    endpoints answer that they are unavailable; every other API keeps serving."""

    vector_cluster_ref: common.LocalObjectReference
    """The VectorCluster (same namespace) that keeps files, stores and their chunks."""
    embedding_model: config.ModelName
    """The model chunks and queries are embedded with: an `embedding` model that one of the
    Gateway's ProviderPools serves."""
    chunking: Chunking = pydantic.Field(
        default_factory=Chunking, json_schema_extra=common.default_object(Chunking)
    )
    max_file_bytes: int = pydantic.Field(default=config.DEFAULT_MAX_FILE_BYTES, ge=1)
    """Largest file `/v1/files` accepts (512 MiB); a larger upload is answered 413."""


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
    """The gateway's shared store: with `type: redis`, every replica keeps its per-key limit
    counters, its budgets' spending and its stored responses (`/v1/responses`) there."""
    stored_responses: StoredResponses = pydantic.Field(
        default_factory=StoredResponses, json_schema_extra=common.default_object(StoredResponses)
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
    sidecar: common.Sidecar = pydantic.Field(
        default_factory=common.Sidecar, json_schema_extra=common.default_object(common.Sidecar)
    )
    scheduling: common.Scheduling = pydantic.Field(
        default_factory=common.Scheduling,
        json_schema_extra=common.default_object(common.Scheduling),
    )
    log_prompts: bool = False
    """Log request messages. Off by default: prompts can hold personal data."""
    request_bodies: RequestBodies = pydantic.Field(
        default_factory=RequestBodies, json_schema_extra=common.default_object(RequestBodies)
    )
    vector_stores: VectorStores | None = None
    """Serve Files and Vector Stores from a VectorCluster; unset, those endpoints answer that
    they are not configured."""
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
