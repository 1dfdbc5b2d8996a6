"""The operator's metrics: bounded label values (an unknown reason or kind is `Other`), results
from a fixed list, API calls without an answer labelled `none`, and a follower reporting no
managed objects."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runestone_operator.core import conditions, metrics


def _samples(counted: metrics.Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(counted.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_reconciles_are_counted_and_timed_by_kind_and_result() -> None:
    counted = metrics.Metrics()
    counted.reconciled("Gateway", metrics.SUCCESS, 0.02)
    counted.reconciled("Gateway", metrics.SUCCESS, 0.04)
    counted.reconciled("VectorCluster", metrics.CANCELLED, 3.0)
    samples = _samples(counted)
    labels = (("kind", "Gateway"), ("result", "success"))
    assert samples[("runestone_operator_reconciles_total", labels)] == 2
    assert samples[("runestone_operator_reconcile_duration_seconds_count", labels)] == 2
    assert samples[("runestone_operator_reconcile_duration_seconds_sum", labels)] == (
        pytest.approx(0.06)
    )
    cancelled = (("kind", "VectorCluster"), ("result", "cancelled"))
    assert samples[("runestone_operator_reconciles_total", cancelled)] == 1
    with pytest.raises(ValueError, match="unknown reconcile result"):
        counted.reconciled("Gateway", "fine", 0.1)


def test_error_reasons_and_kinds_are_bounded() -> None:
    counted = metrics.Metrics()
    counted.degraded("Gateway", conditions.Reason.API_FORBIDDEN)
    counted.degraded("Gateway", "secret sk-123 is missing")  # never a free-text label
    counted.degraded("Mystery", metrics.UNEXPECTED)
    samples = _samples(counted)
    name = "runestone_operator_reconcile_errors_total"
    assert samples[(name, (("kind", "Gateway"), ("reason", "ApiForbidden")))] == 1
    assert samples[(name, (("kind", "Gateway"), ("reason", "Other")))] == 1
    assert samples[(name, (("kind", "Other"), ("reason", "Unexpected")))] == 1


def test_api_requests_by_verb_resource_and_code() -> None:
    counted = metrics.Metrics()
    counted.api_request("patch", "secrets", 200)
    counted.api_request("get", "leases.coordination.k8s.io", 404)
    counted.api_request("get", "leases.coordination.k8s.io", 0)
    samples = _samples(counted)
    name = "runestone_operator_api_requests_total"
    assert samples[(name, (("code", "200"), ("resource", "secrets"), ("verb", "patch")))] == 1
    lease = "leases.coordination.k8s.io"
    assert samples[(name, (("code", "404"), ("resource", lease), ("verb", "get")))] == 1
    assert samples[(name, (("code", "none"), ("resource", lease), ("verb", "get")))] == 1


def test_queue_is_read_at_scrape_time_and_leadership_clears_managed_counts() -> None:
    counted = metrics.Metrics()
    depth = [3]
    counted.watch_queue(lambda: depth[0], lambda: 1)
    counted.waited(0.2)
    counted.leading(True)
    counted.count_managed({"Gateway": 4, "VectorCluster": 1})
    samples = _samples(counted)
    assert samples[("runestone_operator_workqueue_depth", ())] == 3
    assert samples[("runestone_operator_workqueue_in_flight", ())] == 1
    assert samples[("runestone_operator_workqueue_wait_seconds_count", ())] == 1
    assert samples[("runestone_operator_leader", ())] == 1
    assert samples[("runestone_operator_managed_objects", (("kind", "Gateway"),))] == 4
    depth[0] = 0
    counted.leading(False)
    samples = _samples(counted)
    assert samples[("runestone_operator_workqueue_depth", ())] == 0
    assert samples[("runestone_operator_leader", ())] == 0
    assert not [key for key in samples if key[0] == "runestone_operator_managed_objects"]
