"""Counting what a request did (its metrics and its access-log line) just after its answer has
gone out, in batches, instead of before its connection can take the next request.

At one request at a time the counting (a dozen metric updates and a log line) held up the next
request on the connection by about 0.1 ms in bench/gateway_overhead.py; run a millisecond later
it overlaps with the next request's wait for its upstream, and under load one batch serves many
requests. /metrics settles what is pending in its process before it renders, so a scrape never
misses a request that process has answered."""

from __future__ import annotations

import asyncio
import time

from runestone_gateway.admission import budget
from runestone_gateway.failover import routing
from runestone_gateway.providers import base
from runestone_gateway.telemetry import accesslog, metrics

DELAY_SECONDS = 0.001
UPSTREAM_FAILURES = frozenset(kind.value for kind in base.FailureKind) - {
    base.FailureKind.REJECTED.value
}
"""Error types of a request whose stream the upstream broke after its first event."""


class Ledger:
    """Requests answered but not yet counted, and the counting."""

    def __init__(self, meters: metrics.Metrics) -> None:
        self.metrics = meters
        self.access_log: accesslog.Writer | None = None
        """Set by the server (the app itself does no I/O)."""
        self._pending: list[accesslog.Exchange] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, exchange: accesslog.Exchange) -> None:
        exchange.finished = time.perf_counter()
        self._pending.append(exchange)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(DELAY_SECONDS, self.settle)

    def settle(self) -> None:
        """Count everything pending now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        tally = Tally()
        for exchange in pending:
            self._count(exchange, tally)
        tally.apply()

    def _count(self, exchange: accesslog.Exchange, tally: Tally) -> None:
        meters = self.metrics
        tally.inc(
            meters.requests,
            (
                exchange.key_id,
                exchange.operation,
                exchange.model,
                exchange.provider,
                str(exchange.status),
            ),
        )
        for tried, outcome in exchange.attempts:
            tally.inc(meters.attempts, (tried.pool, tried.provider_name, tried.model.name, outcome))
        target = exchange.target
        if target is not None:
            # The dispatch left the successful attempt in flight until now.
            target.window.ended(exchange.finished, broken=exchange.error_type in UPSTREAM_FAILURES)
            labels = request_labels(exchange.operation, target)
            overhead = (exchange.operation,)
            if (
                exchange.ttft is not None
            ):  # a stream: the gateway's own time is before its first token
                tally.observe(meters.time_to_first_token, labels, exchange.ttft)
                tally.observe(
                    meters.overhead, overhead, max(exchange.ttft - exchange.upstream_seconds, 0.0)
                )
            if exchange.answered is not None:
                duration = exchange.answered - exchange.started
                tally.observe(meters.request_duration, (*labels, exchange.error_type), duration)
                if not exchange.stream:
                    tally.observe(
                        meters.overhead, overhead, max(duration - exchange.upstream_seconds, 0.0)
                    )
                self._count_usage(exchange, target, labels, tally)
        if self.access_log is not None:
            self.access_log.write(exchange, exchange.finished - exchange.started)

    def _count_usage(
        self,
        exchange: accesslog.Exchange,
        target: routing.Target,
        labels: tuple[str, ...],
        tally: Tally,
    ) -> None:
        usage = exchange.usage
        if usage is None:
            return
        meters = self.metrics
        if exchange.tokens_estimated:
            tally.inc(meters.estimated_tokens, (*labels, "input"), usage.input_tokens)
            tally.inc(meters.estimated_tokens, (*labels, "output"), usage.output_tokens)
        else:
            tally.observe(meters.token_usage, (*labels, "input"), usage.input_tokens)
            tally.observe(meters.token_usage, (*labels, "output"), usage.output_tokens)
            # Parts of the input, observed only when the upstream reported them.
            if usage.cache_read_tokens:
                tally.observe(
                    meters.token_usage, (*labels, metrics.CACHE_READ), usage.cache_read_tokens
                )
            if usage.cache_write_tokens:
                tally.observe(
                    meters.token_usage, (*labels, metrics.CACHE_WRITE), usage.cache_write_tokens
                )
        cost = budget.usage_cost_nanos(target.model.price, usage)
        if cost:
            tally.inc(
                meters.cost,
                (target.pool, target.provider_name, target.model.name, exchange.key_id),
                budget.nanos_to_usd(cost),
            )


class Tally:
    """One batch's samples by metric and label set, applied once per label set: under load a
    batch holds many requests of the same labels, and each update of a sample takes its lock."""

    __slots__ = ("counts", "observed")

    def __init__(self) -> None:
        self.counts: dict[tuple[metrics.Labelled, tuple[str, ...]], float] = {}
        self.observed: dict[tuple[metrics.Labelled, tuple[str, ...]], list[float]] = {}

    def inc(self, metric: metrics.Labelled, labels: tuple[str, ...], amount: float = 1.0) -> None:
        key = (metric, labels)
        self.counts[key] = self.counts.get(key, 0.0) + amount

    def observe(self, metric: metrics.Labelled, labels: tuple[str, ...], value: float) -> None:
        found = self.observed.get((metric, labels))
        if found is None:
            self.observed[(metric, labels)] = [value]
        else:
            found.append(value)

    def apply(self) -> None:
        for (metric, labels), amount in self.counts.items():
            metric.labels(*labels).inc(amount)
        for (metric, labels), values in self.observed.items():
            metrics.observe_all(metric.labels(*labels), values)


def request_labels(operation: str, target: routing.Target) -> tuple[str, str, str, str, str]:
    """operation, provider type, requested model, response model, provider name."""
    return (
        operation,
        target.provider.spec.type,
        target.model.name,
        target.upstream_model,
        target.provider_name,
    )
