"""The gateway's config file schema: what the operator renders into a ConfigMap and what the
gateway reads. Pure data: pydantic and the standard library only, no I/O, no heavy imports.

Field names are camelCase on the wire so a rendered file reads like the CRDs it came from; in
Python the snake_case names work too (`GatewayConfig(provider_pools=[...])`). Secrets are never
part of this document: it names the files (mounted Secrets) that hold them.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Annotated, Any, Literal

import pydantic
from pydantic import alias_generators

Kind = Literal["chat", "completion", "embedding"]
"""What a model can be asked for: `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`.
A `chat` model also serves `/v1/responses` and `/v1/messages`."""

ProviderType = Literal["openai", "anthropic", "mock"]
UpstreamApi = Literal["chatCompletions", "responses", "messages"]
"""The API a provider is asked in for `/v1/responses` and `/v1/messages` requests: requests in
that API go through as they are, the others are translated to Chat Completions."""
RoutingStrategy = Literal["weighted", "least-latency", "cost"]

KINDS_BY_PROVIDER_TYPE: dict[str, frozenset[str]] = {
    "openai": frozenset({"chat", "completion", "embedding"}),
    # Anthropic's Messages API has no embeddings; completions are served as one user turn.
    "anthropic": frozenset({"chat", "completion"}),
    "mock": frozenset({"chat", "completion", "embedding"}),
}

APIS_BY_PROVIDER_TYPE: dict[str, tuple[UpstreamApi, ...]] = {
    # The first is the default: vLLM, Ollama and most OpenAI-compatible servers have only Chat
    # Completions; OpenAI itself (and a few others) serve the Responses API too.
    "openai": ("chatCompletions", "responses"),
    "anthropic": ("messages",),
    "mock": ("chatCompletions",),
}

DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_BUFFERED_BODY_BYTES = 64 * 1024 * 1024

Name = Annotated[
    str, pydantic.Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
]
"""A Kubernetes-style name (lowercase DNS subdomain) for pools and providers."""

ModelName = Annotated[str, pydantic.Field(min_length=1, max_length=256, pattern=r"^[^\s]+$")]
"""A model name as clients send it or as the upstream knows it (may contain `/` and `:`)."""

DecimalString = Annotated[str, pydantic.Field(pattern=r"^[0-9]+(\.[0-9]+)?$")]
"""A non-negative decimal written as a string, so prices never pass through a float."""


class _Schema(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        alias_generator=alias_generators.to_camel,
        use_attribute_docstrings=True,
    )


class Price(_Schema):
    """What one million tokens cost at this provider, in US dollars.

    Prompt tokens read from or written to the provider's prompt cache are priced on their own
    when the cache prices are set; unset, they cost the plain input price, which is what a price
    table without them has always meant (and never charges a budget less than the provider)."""

    input_per_million_tokens: DecimalString = "0"
    """Price of one million prompt tokens, e.g. "0.15"."""
    output_per_million_tokens: DecimalString = "0"
    """Price of one million completion tokens, e.g. "0.60"."""
    cache_read_input_per_million_tokens: DecimalString | None = None
    """Price of one million prompt tokens read from the prompt cache (OpenAI's `cached_tokens`,
    Anthropic's `cache_read_input_tokens`), e.g. "0.075"; the input price when unset."""
    cache_write_input_per_million_tokens: DecimalString | None = None
    """Price of one million prompt tokens written to the prompt cache (Anthropic's
    `cache_creation_input_tokens`), e.g. "3.75"; the input price when unset."""

    @property
    def cache_read(self) -> str:
        """The price per million cache reads in force."""
        return self.cache_read_input_per_million_tokens or self.input_per_million_tokens

    @property
    def cache_write(self) -> str:
        """The price per million cache writes in force."""
        return self.cache_write_input_per_million_tokens or self.input_per_million_tokens

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> decimal.Decimal:
        """The cost in US dollars of one request with these token counts; `input_tokens` are
        all of its prompt tokens, the cache reads and writes among them."""
        uncached = max(input_tokens - cache_read_tokens - cache_write_tokens, 0)
        per_million = (
            decimal.Decimal(self.input_per_million_tokens) * uncached
            + decimal.Decimal(self.cache_read) * cache_read_tokens
            + decimal.Decimal(self.cache_write) * cache_write_tokens
            + decimal.Decimal(self.output_per_million_tokens) * output_tokens
        )
        return per_million / 1_000_000


class Model(_Schema):
    """One model a provider serves, under the name clients ask for."""

    name: ModelName
    """The name clients send in `model`, e.g. "gpt-4o-mini"."""
    upstream_model: ModelName | None = None
    """The name the upstream knows it by; the client-facing name when unset."""
    kinds: list[Kind] = pydantic.Field(default_factory=lambda: list[Kind](["chat"]), min_length=1)
    """Which endpoints may use it: chat, completion, embedding."""
    price: Price = pydantic.Field(default_factory=Price)
    """Per-token prices, used by the `cost` routing strategy and the cost metric."""

    @property
    def upstream_name(self) -> str:
        return self.upstream_model or self.name

    @pydantic.field_validator("kinds")
    @classmethod
    def _kinds_unique(cls, kinds: list[Kind]) -> list[Kind]:
        if len(set(kinds)) != len(kinds):
            raise ValueError("kinds must not repeat")
        return kinds


class Provider(_Schema):
    """One upstream: an OpenAI-compatible server, Anthropic, or the built-in mock."""

    name: Name
    """Unique within its pool; used in metrics and logs."""
    type: ProviderType
    """`openai` (OpenAI or any OpenAI-compatible server), `anthropic`, or `mock`."""
    base_url: str | None = pydantic.Field(
        default=None, alias="baseURL", pattern=r"^https?://[^\s]+$"
    )
    """Root of the upstream API, e.g. "http://vllm.models.svc:8000/v1". Defaults to the public
    OpenAI or Anthropic endpoint; not allowed for `mock`."""
    api_key_file: str | None = None
    """Path of a mounted secret file holding the upstream API key (never the key itself)."""
    priority: int = pydantic.Field(default=0, ge=0)
    """Failover tier: lower is tried first, one attempt per tier."""
    weight: int = pydantic.Field(default=100, ge=0)
    """Share of traffic within its tier under the `weighted` strategy."""
    timeout_seconds: float = pydantic.Field(default=60.0, gt=0)
    """Upper bound for a whole answer, or for each silence between streamed chunks."""
    api: UpstreamApi | None = None
    """The API `/v1/responses` and `/v1/messages` requests are sent in: for `openai`,
    `chatCompletions` (the default: vLLM, Ollama and most compatible servers) or `responses`
    (OpenAI itself: Responses requests then go through as they are); `anthropic` speaks
    `messages`, the mock `chatCompletions`."""
    models: list[Model] = pydantic.Field(min_length=1)
    """The models this provider serves."""

    @property
    def effective_base_url(self) -> str:
        return (self.base_url or DEFAULT_BASE_URLS.get(self.type, "")).rstrip("/")

    @property
    def effective_api(self) -> UpstreamApi:
        return self.api or APIS_BY_PROVIDER_TYPE[self.type][0]

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Provider:
        if self.type == "mock" and (self.base_url or self.api_key_file):
            raise ValueError("a mock provider takes neither baseURL nor apiKeyFile")
        if self.api is not None and self.api not in APIS_BY_PROVIDER_TYPE[self.type]:
            spoken = ", ".join(APIS_BY_PROVIDER_TYPE[self.type])
            raise ValueError(f"api {self.api!r}: {self.type} providers speak {spoken}")
        allowed = KINDS_BY_PROVIDER_TYPE[self.type]
        names: set[str] = set()
        for model in self.models:
            if model.name in names:
                raise ValueError(f"model {model.name!r} is listed twice")
            names.add(model.name)
            refused = sorted(set(model.kinds) - allowed)
            if refused:
                raise ValueError(
                    f"model {model.name!r}: {self.type} providers cannot serve {refused}"
                )
        return self


class Routing(_Schema):
    """How a pool picks among the providers of one priority tier."""

    strategy: RoutingStrategy = "weighted"
    """`weighted` (random by weight), `least-latency` (lowest moving average), `cost` (cheapest)."""


class CircuitBreaker(_Schema):
    """Per provider and model: stop calling an upstream that keeps failing, then probe it."""

    failure_threshold: int = pydantic.Field(default=5, ge=1)
    """Consecutive failures that open the circuit."""
    open_seconds: float = pydantic.Field(default=30.0, gt=0)
    """How long an open circuit refuses calls before it lets probes through (half-open)."""
    half_open_requests: int = pydantic.Field(default=1, ge=1)
    """Probe calls admitted while half-open; all must succeed to close the circuit."""


class HealthCheck(_Schema):
    """Active checks of each provider, independent of client traffic."""

    interval_seconds: float = pydantic.Field(default=15.0, gt=0)
    """Time between two checks of one provider."""
    timeout_seconds: float = pydantic.Field(default=5.0, gt=0)
    """A check that takes longer fails."""


class ProviderPool(_Schema):
    """A set of providers serving a set of model names, with failover and routing."""

    name: Name
    """The ProviderPool's name."""
    routing: Routing = pydantic.Field(default_factory=Routing)
    circuit_breaker: CircuitBreaker = pydantic.Field(default_factory=CircuitBreaker)
    health_check: HealthCheck = pydantic.Field(default_factory=HealthCheck)
    providers: list[Provider] = pydantic.Field(min_length=1)

    @pydantic.model_validator(mode="after")
    def _unique_providers(self) -> ProviderPool:
        names = [provider.name for provider in self.providers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"provider names repeat in pool {self.name!r}: {duplicates}")
        return self

    def model_names(self) -> set[str]:
        return {model.name for provider in self.providers for model in provider.models}


class Tls(_Schema):
    """A serving certificate from mounted secret files; re-read when the files change."""

    cert_file: str
    """PEM certificate chain (leaf first)."""
    key_file: str
    """PEM private key of the leaf certificate."""


class Server(_Schema):
    """Settings of the HTTP server itself."""

    max_body_bytes: int = pydantic.Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    """Largest accepted request body; larger ones get 413."""
    body_timeout_seconds: float = pydantic.Field(default=30.0, gt=0)
    """A request body from which nothing arrives for this long is answered 408 and its
    connection closed; so is one that, after this long, has averaged less than
    `bodyMinBytesPerSecond`."""
    body_min_bytes_per_second: int = pydantic.Field(default=4096, ge=0)
    """The slowest a request body may arrive on average once `bodyTimeoutSeconds` have
    passed; 0 turns this check off."""
    max_buffered_body_bytes: int | None = pydantic.Field(default=None, ge=1024)
    """Bytes of request bodies one gateway process holds while they arrive, over all its
    connections; a body past it is answered 503 with Retry-After. Unset: 64 MiB, or
    `maxBodyBytes` when that is larger."""
    graceful_shutdown_seconds: float = pydantic.Field(default=30.0, ge=0)
    """On SIGTERM, how long in-flight requests and streams may run before they are cut."""
    log_prompts: bool = False
    """Log request messages. Off by default: prompts can hold personal data."""
    reload_check_seconds: float = pydantic.Field(default=2.0, gt=0)
    """How often the config file and the secret files it names are checked for changes."""
    tls: Tls | None = None
    """Serve the API over HTTPS with this certificate; plain HTTP when unset."""

    @property
    def buffered_body_limit(self) -> int:
        if self.max_buffered_body_bytes is not None:
            return self.max_buffered_body_bytes
        return max(DEFAULT_MAX_BUFFERED_BODY_BYTES, self.max_body_bytes)

    @pydantic.model_validator(mode="after")
    def _a_whole_body_fits(self) -> Server:
        if self.buffered_body_limit < self.max_body_bytes:
            raise ValueError("maxBufferedBodyBytes must be at least maxBodyBytes")
        return self


class Auth(_Schema):
    """How clients authenticate."""

    key_table_file: str | None = None
    """Path of a mounted secret file holding the API-key table (SHA-256 hashes, never keys).
    Without it the gateway generates one key at start-up and prints it once."""


BudgetPeriod = Literal["daily", "weekly", "monthly", "total"]


class KeyLimits(_Schema):
    """Per-key limits; unset means unlimited. Shared by all replicas with a redis store."""

    requests_per_minute: int | None = pydantic.Field(default=None, ge=1)
    tokens_per_minute: int | None = pydantic.Field(default=None, ge=1)
    """Prompt plus completion tokens; prompts are estimated up front, corrected after."""
    max_concurrent_requests: int | None = pydantic.Field(default=None, ge=1)
    max_stored_bytes: int | None = pydantic.Field(default=None, ge=1)
    """Bytes of files (`/v1/files`) the key may keep at once; an upload past it is refused."""
    max_files: int | None = pydantic.Field(default=None, ge=1)
    """Files the key may keep at once."""


class KeyBudget(_Schema):
    """Spending cap in US dollars per period, from the model price table."""

    usd: DecimalString
    period: BudgetPeriod = "monthly"
    """Calendar period in UTC (`total` never resets)."""


class KeyTableEntry(_Schema):
    """One accepted API key, known only by its hash.

    During a rotation two entries share one `id`: the new key and the old one, whose
    `expiresAt` is the end of its grace period. Limits and budgets are kept per `id`.
    """

    id: str = pydantic.Field(min_length=1, max_length=253)
    """A name for the key that may appear in logs and metrics (never the key)."""
    sha256: str = pydantic.Field(pattern=r"^[0-9a-f]{64}$")
    """Lowercase hex SHA-256 of the plaintext key."""
    tenant: str | None = None
    """Who the key belongs to, e.g. "<namespace>/<gateway>"; for logs and metrics."""
    models: list[ModelName] = pydantic.Field(default_factory=lambda: ["*"], min_length=1)
    """Model names this key may use; "*" allows every model."""
    limits: KeyLimits = pydantic.Field(default_factory=KeyLimits)
    budget: KeyBudget | None = None
    expires_at: datetime.datetime | None = None
    """After this instant the key is refused with 403 (timezone-aware)."""
    disabled: bool = False
    """A disabled key is refused with 401, exactly like an unknown one."""


class KeyTable(_Schema):
    """The content of `auth.keyTableFile`."""

    keys: list[KeyTableEntry] = pydantic.Field(default_factory=list)

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RateLimitStore(_Schema):
    """Where per-key counters live: in each process, or in Redis shared by every replica. A
    redis store is the gateway's shared store: budgets' spending and stored responses live
    there too; a local one stores no responses."""

    type: Literal["local", "redis"] = "local"
    url: str | None = pydantic.Field(default=None, pattern=r"^rediss?://[^\s]+$")
    """Redis URL without credentials, e.g. "redis://redis.infra.svc:6379/0"."""
    url_file: str | None = None
    """Path of a mounted secret file holding the Redis URL (use it when the URL has a password)."""
    fail_mode: Literal["open", "closed"] = "open"
    """When Redis is unreachable: `open` serves without limits (logged and counted), `closed`
    refuses with 503."""

    @pydantic.model_validator(mode="after")
    def _url_for_redis(self) -> RateLimitStore:
        if self.type == "redis" and not (self.url or self.url_file):
            raise ValueError("a redis rate-limit store needs url or urlFile")
        if self.url and self.url_file:
            raise ValueError("give url or urlFile, not both")
        return self


class Limits(_Schema):
    """Per-key limit enforcement."""

    store: RateLimitStore = pydantic.Field(default_factory=RateLimitStore)
    """The shared store: a `redis` store keeps, for every replica, the limit counters, the
    budgets' spending and the stored responses of `/v1/responses`."""


DEFAULT_RESPONSE_RETENTION_SECONDS = 30 * 24 * 3600.0


class StoredResponses(_Schema):
    """Responses kept for `previous_response_id` and `GET /v1/responses/{id}`, in the shared
    store (`limits.store` of type redis); without one nothing is stored."""

    retention_seconds: float = pydantic.Field(default=DEFAULT_RESPONSE_RETENTION_SECONDS, gt=0)
    """How long a stored response is kept after it was made (30 days, as OpenAI keeps them)."""


DEFAULT_MAX_CHUNK_SIZE_TOKENS = 800
DEFAULT_CHUNK_OVERLAP_TOKENS = 400
MIN_CHUNK_SIZE_TOKENS = 100
MAX_CHUNK_SIZE_TOKENS = 4096
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024


class Chunking(_Schema):
    """How files are cut into chunks when a client names no `chunking_strategy` (OpenAI's
    `auto`), under OpenAI's rules: 100 to 4096 tokens a chunk, overlapping by at most half."""

    max_chunk_size_tokens: int = pydantic.Field(
        default=DEFAULT_MAX_CHUNK_SIZE_TOKENS, ge=MIN_CHUNK_SIZE_TOKENS, le=MAX_CHUNK_SIZE_TOKENS
    )
    chunk_overlap_tokens: int = pydantic.Field(default=DEFAULT_CHUNK_OVERLAP_TOKENS, ge=0)

    @pydantic.model_validator(mode="after")
    def _overlap_at_most_half(self) -> Chunking:
        if self.chunk_overlap_tokens > self.max_chunk_size_tokens // 2:
            raise ValueError("chunkOverlapTokens must not exceed half of maxChunkSizeTokens")
        return self


DEFAULT_HEARTBEAT_SECONDS = 10.0
DEFAULT_SWEEP_SECONDS = 30.0
DEFAULT_INGEST_CONCURRENCY = 4


class VectorStores(_Schema):
    """OpenAI's Files and Vector Stores (`/v1/files`, `/v1/vector_stores`), kept in a Weaviate
    cluster (a VectorCluster): file bytes, metadata, chunks and their vectors."""

    url: str = pydantic.Field(pattern=r"^https?://[^\s]+$")
    """The cluster's client URL (Weaviate's REST API), e.g. "https://docs.team.svc:8080"."""
    ca_file: str | None = None
    """PEM CA bundle that signed the cluster's serving certificate (https URLs)."""
    api_key_file: str | None = None
    """Path of a mounted secret file holding the gateway's own Weaviate API key."""
    embedding_model: ModelName
    """The model chunks and queries are embedded with: an `embedding` model of one of the
    pools, asked through the gateway's own route (failover, limits and cost apply)."""
    chunking: Chunking = pydantic.Field(default_factory=Chunking)
    max_file_bytes: int = pydantic.Field(default=DEFAULT_MAX_FILE_BYTES, ge=1)
    """Largest file `/v1/files` accepts; a larger upload is answered 413."""
    replication_factor: int = pydantic.Field(default=1, ge=1)
    """Copies Weaviate keeps of every object (at most the cluster's members), set on the
    collections when they are made. A changed factor is asked of existing collections; what
    Weaviate refuses (lowering, or raising before the shards have replicas) is logged."""
    heartbeat_seconds: float = pydantic.Field(default=DEFAULT_HEARTBEAT_SECONDS, gt=0, le=300)
    """How often an ingesting process marks its file alive; a file whose mark is three
    intervals old is taken over by any gateway process (its ingester died)."""
    sweep_seconds: float = pydantic.Field(default=DEFAULT_SWEEP_SECONDS, gt=0, le=3600)
    """How often each gateway process looks for expired stores and abandoned ingestions."""
    ingest_concurrency: int = pydantic.Field(default=DEFAULT_INGEST_CONCURRENCY, ge=1, le=64)
    """Embedding calls each gateway process makes at once for ingestions; the others wait for a
    slot, so a batch of many files never floods a self-hosted embedding server into timeouts."""


class GatewayConfig(_Schema):
    """The whole config file."""

    server: Server = pydantic.Field(default_factory=Server)
    auth: Auth = pydantic.Field(default_factory=Auth)
    limits: Limits = pydantic.Field(default_factory=Limits)
    stored_responses: StoredResponses = pydantic.Field(default_factory=StoredResponses)
    provider_pools: list[ProviderPool] = pydantic.Field(min_length=1)
    """Every pool this gateway serves; a model name belongs to exactly one pool."""
    vector_stores: VectorStores | None = None
    """Serve `/v1/files` and `/v1/vector_stores` from this Weaviate cluster; unset, those
    endpoints answer what to configure."""

    @pydantic.model_validator(mode="after")
    def _embedding_model_served(self) -> GatewayConfig:
        if self.vector_stores is None:
            return self
        wanted = self.vector_stores.embedding_model
        embedding = {
            model.name
            for pool in self.provider_pools
            for provider in pool.providers
            for model in provider.models
            if "embedding" in model.kinds
        }
        if wanted not in embedding:
            raise ValueError(
                f"vectorStores.embeddingModel {wanted!r} is not an embedding model of any pool"
            )
        return self

    @pydantic.model_validator(mode="after")
    def _models_in_one_pool(self) -> GatewayConfig:
        owner: dict[str, str] = {}
        pool_names: set[str] = set()
        for pool in self.provider_pools:
            if pool.name in pool_names:
                raise ValueError(f"pool {pool.name!r} is listed twice")
            pool_names.add(pool.name)
            for model in sorted(pool.model_names()):
                if model in owner:
                    raise ValueError(
                        f"model {model!r} is served by pools {owner[model]!r} and {pool.name!r}"
                    )
                owner[model] = pool.name
        return self

    def secret_files(self) -> list[str]:
        """Every secret file this config names, in a stable order."""
        files = [
            provider.api_key_file
            for pool in self.provider_pools
            for provider in pool.providers
            if provider.api_key_file
        ]
        if self.auth.key_table_file:
            files.append(self.auth.key_table_file)
        if self.limits.store.url_file:
            files.append(self.limits.store.url_file)
        if self.server.tls:
            files += [self.server.tls.cert_file, self.server.tls.key_file]
        if self.vector_stores is not None:
            if self.vector_stores.api_key_file:
                files.append(self.vector_stores.api_key_file)
            if self.vector_stores.ca_file:
                files.append(self.vector_stores.ca_file)
        return sorted(set(files))

    def to_document(self) -> dict[str, Any]:
        """The JSON-ready form with CRD-style names, as the operator writes it."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def mock_config() -> GatewayConfig:
    """What the gateway serves without a config file: the built-in mock provider."""
    return GatewayConfig(
        provider_pools=[
            ProviderPool(
                name="default",
                providers=[
                    Provider(
                        name="mock",
                        type="mock",
                        models=[
                            Model(name="mock-chat", kinds=["chat", "completion"]),
                            Model(name="mock-embedding", kinds=["embedding"]),
                        ],
                    )
                ],
            )
        ]
    )
