"""The operator's own metrics, served at `/metrics` beside its liveness endpoint: what it
reconciles, how long that takes and how it ends, its work queue, its calls to the API server,
whether it leads, and how many objects of each kind it manages.

Every label value is bounded: kinds come from `kinds.ALL`, results from `RESULTS`, reasons from
`conditions.Reason` (anything else counts as `Other`), verbs and resources from the calls the
operator's code makes. One `Metrics` per process, with a registry of its own (no globals)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from runestone_operator.core import conditions, kinds

SUCCESS = "success"
"""The reconcile ran to its end (it may have asked to be woken later)."""
RETRY = "retry"
"""It stopped on a problem (a Degraded reason) and is retried with backoff."""
ERROR = "error"
"""It raised something unexpected (logged with its traceback) and is retried with backoff."""
CANCELLED = "cancelled"
"""It was stopped halfway: the lease was lost, or the drain's deadline passed."""
RESULTS = (SUCCESS, RETRY, ERROR, CANCELLED)

UNEXPECTED = "Unexpected"
"""The error reason of a reconcile that raised (no Degraded reason was written)."""
OTHER = "Other"
"""An error reason that is not one of `conditions.Reason` (kept out of the labels)."""
NO_ANSWER = "none"
"""The status-code label of an API call that got no HTTP answer (unreachable, timed out)."""

_REASONS = frozenset(
    value
    for name, value in vars(conditions.Reason).items()
    if not name.startswith("_") and isinstance(value, str)
) | {UNEXPECTED}
_KINDS = frozenset(kind.name for kind in kinds.ALL)

RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


def _kind(kind: str) -> str:
    return kind if kind in _KINDS else OTHER


class Metrics:
    """The operator's collectors, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.reconcile_duration = Histogram(
            "runestone_operator_reconcile_duration_seconds",
            "Seconds one reconcile of one object took, by kind and result.",
            ["kind", "result"],
            buckets=RECONCILE_BUCKETS,
            registry=registry,
        )
        self.reconciles = Counter(
            "runestone_operator_reconciles",
            "Reconciles by kind and result (success, retry, error, cancelled).",
            ["kind", "result"],
            registry=registry,
        )
        self.reconcile_errors = Counter(
            "runestone_operator_reconcile_errors",
            "Reconciles that left their object Degraded, by kind and the condition's reason "
            "(Unexpected: the reconcile raised).",
            ["kind", "reason"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "runestone_operator_workqueue_depth",
            "Objects waiting in the work queue for a worker.",
            registry=registry,
        )
        self.in_flight = Gauge(
            "runestone_operator_workqueue_in_flight",
            "Reconciles running now.",
            registry=registry,
        )
        self.queue_wait = Histogram(
            "runestone_operator_workqueue_wait_seconds",
            "Seconds an object waited in the work queue before a worker took it.",
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.api_requests = Counter(
            "runestone_operator_api_requests",
            "Calls to the Kubernetes API server by verb, resource and HTTP status code (none: no "
            "answer). Kopf's watches are not counted.",
            ["verb", "resource", "code"],
            registry=registry,
        )
        self.leader = Gauge(
            "runestone_operator_leader",
            "1 while this process holds the leader lease (or runs without leader election).",
            registry=registry,
        )
        self.managed = Gauge(
            "runestone_operator_managed_objects",
            "Objects of each kind the operator manages, as counted by its last resync pass.",
            ["kind"],
            registry=registry,
        )

    def reconciled(self, kind: str, result: str, seconds: float) -> None:
        if result not in RESULTS:
            raise ValueError(f"unknown reconcile result {result!r}")
        labels = (_kind(kind), result)
        self.reconcile_duration.labels(*labels).observe(seconds)
        self.reconciles.labels(*labels).inc()

    def degraded(self, kind: str, reason: str) -> None:
        """A reconcile that left its object Degraded with `reason`."""
        shown = reason if reason in _REASONS else OTHER
        self.reconcile_errors.labels(_kind(kind), shown).inc()

    def waited(self, seconds: float) -> None:
        self.queue_wait.observe(seconds)

    def watch_queue(self, depth: Callable[[], int], in_flight: Callable[[], int]) -> None:
        """Where the queue's depth and running reconciles are read at each scrape."""
        self.queue_depth.set_function(lambda: float(depth()))
        self.in_flight.set_function(lambda: float(in_flight()))

    def api_request(self, verb: str, resource: str, status: int) -> None:
        code = str(status) if status else NO_ANSWER
        self.api_requests.labels(verb, resource, code).inc()

    def leading(self, leads: bool) -> None:
        self.leader.set(1 if leads else 0)
        if not leads:
            # A follower manages nothing; a dashboard summing replicas then counts once.
            self.managed.clear()

    def count_managed(self, counts: dict[str, int]) -> None:
        for kind, count in counts.items():
            self.managed.labels(_kind(kind)).set(count)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
