"""Prometheus metrics, named after the OpenTelemetry GenAI conventions where they have a name and
prefixed `runestone_` where they do not. Labels never carry a key, a prompt or a client-chosen
string the gateway does not serve (unknown model names are reported as empty).

With several worker processes the values live in prometheus_client's multiprocess files and
`render` aggregates them, so any worker answers for all."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import exposition as _exposition
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

CONTENT_TYPE = str(_exposition.CONTENT_TYPE_LATEST)

_REQUEST = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "gen_ai_response_model",
    "runestone_provider",
)
"""The OpenTelemetry GenAI attributes of a served request, plus which configured provider
served it (`gen_ai_provider_name` is its type, e.g. openai). The response model is the upstream
model the gateway asked for (from the config, so its values stay bounded)."""
_TARGET = ("runestone_pool", "runestone_provider", "gen_ai_request_model")
KEY = "runestone_key_id"
"""API keys appear in metrics only as their id from the key table, never as the key."""

BODY_REJECTIONS = ("stalled", "too_slow", "overloaded")

CACHE_READ = "cache_read"
CACHE_WRITE = "cache_creation"
"""`gen_ai_token_type` values for the prompt tokens read from and written to a provider's prompt
cache, counted besides `input` (which includes them) and `output`. OpenTelemetry's token types
are only input and output; these follow its names for the same counts
(`gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.cache_creation.input_tokens`)."""

KeyFacts = tuple[dict[str, float], dict[str, float]]
"""Per key id: expiry (Unix seconds) and budget (US dollars), from the current key table."""

DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


class Labelled:
    """A metric whose children are looked up once per label set, then kept: the request path
    records several samples, and prometheus_client's own lookup validates labels every time.
    Label values come from the config (never from clients), so the cache stays small."""

    __slots__ = ("_children", "metric")

    def __init__(self, metric: MetricWrapperBase) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def labels(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


def observe_all(child: Any, values: list[float]) -> None:
    """As `child.observe(value)` for each of `values` (a Histogram child), with one update per
    bucket reached and one of the sum: each update takes the value's lock (and in multiprocess
    mode writes its file). Reads the child's bucket bounds and values, which prometheus_client
    keeps as `_upper_bounds`, `_buckets` and `_sum` (a unit test holds the exposition equal to
    `observe`'s)."""
    bounds = child._upper_bounds
    reached: dict[int, int] = {}
    total = 0.0
    for value in values:
        index = bisect.bisect_left(bounds, value)  # the first bound >= value, as observe's
        reached[index] = reached.get(index, 0) + 1
        total += value
    child._sum.inc(total)
    for index, count in reached.items():
        child._buckets[index].inc(count)


class Metrics:
    def __init__(self, *, multiprocess_mode: bool = False) -> None:
        self.multiprocess_mode = multiprocess_mode
        self.registry = CollectorRegistry()
        # In multiprocess mode values go to shared files, not to an in-process registry.
        registry = None if multiprocess_mode else self.registry
        self.request_duration = Labelled(
            Histogram(
                "gen_ai_server_request_duration",
                "Seconds from receiving a request to sending the last byte of its answer.",
                [*_REQUEST, "error_type"],
                buckets=DURATION_BUCKETS,
                registry=registry,
            )
        )
        self.time_to_first_token = Labelled(
            Histogram(
                "gen_ai_server_time_to_first_token",
                "Seconds from receiving a streamed request to its first chunk.",
                list(_REQUEST),
                buckets=TTFT_BUCKETS,
                registry=registry,
            )
        )
        self.token_usage = Labelled(
            Histogram(
                "gen_ai_client_token_usage",
                "Tokens per request, as the upstream counted them: input (cache reads and writes "
                "included), output, and of the input cache_read and cache_creation.",
                [*_REQUEST, "gen_ai_token_type"],
                buckets=TOKEN_BUCKETS,
                registry=registry,
            )
        )
        self.estimated_tokens = Labelled(
            Counter(
                "runestone_gateway_estimated_tokens",
                "Tokens charged from the gateway's own estimate because the upstream reported "
                "no usage (a stream the client left, an upstream that omits usage); they are "
                "not in gen_ai_client_token_usage.",
                [*_REQUEST, "gen_ai_token_type"],
                registry=registry,
            )
        )
        self.overhead = Labelled(
            Histogram(
                "runestone_gateway_overhead_seconds",
                "Seconds a request spends in the gateway itself, upstream time excluded.",
                ["gen_ai_operation_name"],
                buckets=OVERHEAD_BUCKETS,
                registry=registry,
            )
        )
        self.requests = Labelled(
            Counter(
                "runestone_gateway_requests",
                "API requests by key id, operation, model, provider and HTTP status (labels the "
                "gateway could not tell are empty: no key, an unknown model, no provider).",
                [
                    KEY,
                    "gen_ai_operation_name",
                    "gen_ai_request_model",
                    "runestone_provider",
                    "status_code",
                ],
                registry=registry,
            )
        )
        self.limit_rejections = Labelled(
            Counter(
                "runestone_gateway_limit_rejections",
                "Requests refused by a per-key limit: requests, tokens, concurrency, budget, or "
                "store_unavailable (the rate-limit store was down and failMode is closed).",
                [KEY, "limit"],
                registry=registry,
            )
        )
        self.limit_store_failures = Labelled(
            Counter(
                "runestone_gateway_limit_store_failures",
                "Failed calls to the rate-limit store (admit, settle, renew) and the fail mode "
                "that applied.",
                ["operation", "fail_mode"],
                registry=registry,
            )
        )
        self.budget_spent = Labelled(
            Gauge(
                "runestone_key_budget_spent_usd",
                "US dollars a key id has spent in its current budget period, as last settled.",
                [KEY],
                registry=registry,
                multiprocess_mode="livemostrecent",
            )
        )
        self.attempts = Labelled(
            Counter(
                "runestone_upstream_attempts",
                "Calls to upstream providers, by outcome (success or the kind of failure).",
                [*_TARGET, "outcome"],
                registry=registry,
            )
        )
        self.cost = Labelled(
            Counter(
                "runestone_cost_usd",
                "US dollars spent, from upstream token counts and configured prices.",
                [*_TARGET, KEY],
                registry=registry,
            )
        )
        self.circuit_state = Labelled(
            Gauge(
                "runestone_circuit_state",
                "Circuit breaker state per provider and model: 0 closed, 1 half-open, 2 open.",
                list(_TARGET),
                registry=registry,
                multiprocess_mode="livemax",
            )
        )
        self.provider_healthy = Labelled(
            Gauge(
                "runestone_provider_healthy",
                "1 when the last active health check of the provider passed, else 0.",
                ["runestone_pool", "runestone_provider"],
                registry=registry,
                multiprocess_mode="livemin",
            )
        )
        self.config_reloads = Labelled(
            Counter(
                "runestone_config_reloads",
                "Config reloads by result: success, or failure (the old config kept serving).",
                ["result"],
                registry=registry,
            )
        )
        self.config_generation = Gauge(
            "runestone_config_generation",
            "How many configs this process has loaded (1 after start-up).",
            registry=registry,
            multiprocess_mode="livemax",
        )

        self.body_buffered = Gauge(
            "runestone_gateway_request_body_buffered_bytes",
            "Bytes of request bodies held while the rest of them arrives (at most "
            "server.maxBufferedBodyBytes per process).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.body_rejections = Labelled(
            Counter(
                "runestone_gateway_request_body_rejections",
                "Request bodies refused before they were whole: stalled (nothing arrived for "
                "server.bodyTimeoutSeconds), too_slow (under server.bodyMinBytesPerSecond), "
                "overloaded (the process held as many body bytes as it may).",
                ["reason"],
                registry=registry,
            )
        )
        for reason in BODY_REJECTIONS:
            self.body_rejections.labels(reason)

        self.workers = Gauge(
            "runestone_gateway_workers",
            "Worker processes serving (1 per process; summed over live workers).",
            registry=registry,
            multiprocess_mode="livesum",
        )

        self._keys = KeyCollector(lambda: ({}, {}))
        if not multiprocess_mode:
            self.registry.register(self._keys)

    def describe_keys(self, source: Callable[[], KeyFacts]) -> None:
        """Where key expiries and budgets come from (read at each scrape)."""
        self._keys.source = source

    def render(self) -> bytes:
        if not self.multiprocess_mode:
            return bytes(generate_latest(self.registry))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        # Every worker reads the same key table, so the scraped one speaks for all.
        registry.register(self._keys)
        return bytes(generate_latest(registry))


class KeyCollector(Collector):
    """Facts of the current key table, exported at each scrape rather than kept in samples, so
    keys removed from the table disappear from the metrics."""

    def __init__(self, source: Callable[[], KeyFacts]) -> None:
        self.source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        expiries, budgets = self.source()
        expiry = GaugeMetricFamily(
            "runestone_key_expiry_timestamp_seconds",
            "When each key id's newest key expires (Unix seconds); ids whose key never "
            "expires are not listed.",
            labels=[KEY],
        )
        for key_id, when in sorted(expiries.items()):
            expiry.add_metric([key_id], when)
        yield expiry
        limit = GaugeMetricFamily(
            "runestone_key_budget_usd",
            "Each key id's budget per period, in US dollars.",
            labels=[KEY],
        )
        for key_id, usd in sorted(budgets.items()):
            limit.add_metric([key_id], usd)
        yield limit
