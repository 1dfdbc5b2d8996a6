"""The hand-written exposition is valid Prometheus text, as prometheus_client parses it."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runestone_sidecar import metrics


def test_every_family_renders_and_parses() -> None:
    m = metrics.Metrics()
    m.probe_duration.observe(0.003, "gateway")
    m.probe_duration.observe(0.2, "gateway")
    m.probe_duration.observe(50, "gateway")
    m.probe_results.inc("gateway", "success", "TargetReady")
    m.probe_results.inc("gateway", "failure", 'Odd"Reason\\')
    m.patch_errors.inc("runestone.dev/gateway-ready", "conflict")
    m.patches.inc("runestone.dev/gateway-ready")
    m.condition_status.set(1, "runestone.dev/gateway-ready")

    families = {f.name: f for f in text_string_to_metric_families(m.render())}
    assert all(name.startswith("runestone_sidecar_") for name in families)
    histogram = families["runestone_sidecar_probe_duration_seconds"]
    assert histogram.type == "histogram"
    samples = {(s.name, s.labels.get("le")): s.value for s in histogram.samples}
    assert samples[("runestone_sidecar_probe_duration_seconds_count", None)] == 3
    assert samples[("runestone_sidecar_probe_duration_seconds_bucket", "+Inf")] == 3
    assert samples[("runestone_sidecar_probe_duration_seconds_bucket", "0.005")] == 1
    assert samples[("runestone_sidecar_probe_duration_seconds_bucket", "0.25")] == 2
    assert abs(samples[("runestone_sidecar_probe_duration_seconds_sum", None)] - 50.203) < 1e-9

    results = families["runestone_sidecar_probe_results"]  # the parser drops `_total`
    reasons = {s.labels["reason"]: s.value for s in results.samples}
    assert reasons == {"TargetReady": 1, 'Odd"Reason\\': 1}
    errors = families["runestone_sidecar_patch_errors"]
    assert [(s.labels["kind"], s.value) for s in errors.samples] == [("conflict", 1)]
    gauge = families["runestone_sidecar_condition_status"]
    assert [s.value for s in gauge.samples] == [1]


def test_counters_must_be_named_total_and_labels_must_match() -> None:
    m = metrics.Metrics()
    with pytest.raises(ValueError, match="labels"):
        m.patches.inc("a", "b")
    with pytest.raises(ValueError, match="_total"):
        metrics.Counter("no_suffix", "x")
