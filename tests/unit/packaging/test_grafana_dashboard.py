"""The chart's Grafana dashboard (helm/runestone/dashboards/runestone.json) asks only for what the
code exports: every metric an expression names is a sample the gateway or the operator registers,
and every label it groups or filters by is one of that metric's labels (or `le`, or a label
Prometheus gives every scraped target)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from runestone_gateway.telemetry import metrics as gateway_metrics
from runestone_operator.core import metrics as operator_metrics

DASHBOARD = Path(__file__).resolve().parents[3] / "helm" / "runestone" / "dashboards"
TARGET_LABELS = frozenset({"pod", "namespace", "instance", "job", "service", "container"})
"""What Prometheus (or a ServiceMonitor's relabelling) adds to every scraped sample."""
FUNCTIONS = frozenset(
    {"sum", "max", "min", "avg", "count", "rate", "increase", "histogram_quantile", "by"}
)
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def _collectors(source: object) -> Iterator[MetricWrapperBase]:
    for value in vars(source).values():
        metric = getattr(value, "metric", value)  # the gateway's Labelled wraps its metric
        if isinstance(metric, MetricWrapperBase):
            yield metric


def _exported() -> dict[str, frozenset[str]]:
    """Every sample name the two processes can export, with the label names it carries."""
    found: dict[str, frozenset[str]] = {}
    sources: list[tuple[object, CollectorRegistry]] = []
    operator = operator_metrics.Metrics()
    sources.append((operator, operator.registry))
    gateway = gateway_metrics.Metrics()
    # The key-table collector exports samples only for the keys it is shown.
    gateway.describe_keys(lambda: ({"key-id": 1.0}, {"key-id": 1.0}))
    sources.append((gateway, gateway.registry))
    for holder, registry in sources:
        # prometheus_client keeps a metric's label names in `_labelnames` only.
        labels = {c._name: frozenset(c._labelnames) for c in _collectors(holder)}
        for family in registry.collect():
            names = labels.get(family.name)
            if names is None:
                names = frozenset(key for sample in family.samples for key in sample.labels)
            for suffix in SUFFIXES[family.type]:
                found[family.name + suffix] = names
    return found


def _expressions() -> list[tuple[str, str]]:
    document: dict[str, Any] = json.loads((DASHBOARD / "runestone.json").read_text())
    return [
        (panel["title"], target["expr"])
        for panel in document["panels"]
        for target in panel.get("targets", [])
    ]


def _metrics_and_labels(expr: str) -> tuple[set[str], set[str]]:
    """The metric names an expression reads, and the label names it groups or matches by."""
    labels: set[str] = set()
    for grouped in _GROUPING.findall(expr):
        labels |= {name.strip() for name in grouped.split(",") if name.strip()}
    for matchers in _MATCHERS.findall(expr):
        labels |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    bare = _RANGE.sub("", _MATCHERS.sub("", _GROUPING.sub("", expr)))
    bare = re.sub(r'"[^"]*"', "", bare)
    names = {name for name in _NAME.findall(bare) if name not in FUNCTIONS}
    return names, labels


EXPRESSIONS = _expressions()


def test_the_dashboard_covers_gateway_and_operator() -> None:
    named = set().union(*(_metrics_and_labels(expr)[0] for _, expr in EXPRESSIONS))
    assert any(name.startswith("runestone_gateway_") for name in named)
    assert any(name.startswith("gen_ai_") for name in named)
    assert any(name.startswith("runestone_operator_") for name in named)
    assert len(EXPRESSIONS) == len({expr for _, expr in EXPRESSIONS}), "a panel is repeated"


@pytest.mark.parametrize(("title", "expr"), EXPRESSIONS, ids=[title for title, _ in EXPRESSIONS])
def test_every_expression_reads_exported_metrics_and_labels(title: str, expr: str) -> None:
    exported = _exported()
    names, labels = _metrics_and_labels(expr)
    assert names, f"{title}: no metric found in {expr!r}"
    unknown = sorted(names - exported.keys())
    assert not unknown, f"{title}: no such metric exported: {unknown}"
    carried = set().union(*(exported[name] for name in names)) | {"le"} | TARGET_LABELS
    assert labels <= carried, f"{title}: labels {sorted(labels - carried)} are on none of {names}"


def test_the_checker_refuses_an_unknown_metric_and_label() -> None:
    """The parsing above is what the test relies on: a made-up name or label is caught."""
    exported = _exported()
    names, labels = _metrics_and_labels(
        'sum by (kind, colour) (rate(runestone_operator_reconciles_total{result="x"}[5m]))'
        " / runestone_operator_reconciles_per_day"
    )
    assert names == {"runestone_operator_reconciles_total", "runestone_operator_reconciles_per_day"}
    assert labels == {"kind", "colour", "result"}
    assert "runestone_operator_reconciles_per_day" not in exported
    assert "colour" not in exported["runestone_operator_reconciles_total"]
