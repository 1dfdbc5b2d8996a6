"""The sidecar's Prometheus metrics, written in the text exposition format by hand.

Four metric families do not justify the five megabytes prometheus_client adds to a process that
aims to stay under 40 MB; the unit tests parse this output with prometheus_client's own parser.
Everything lives on a `Metrics` instance (no module globals).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

LabelValues = tuple[str, ...]

PROBE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class _Family:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)

    def _key(self, labels: Sequence[str]) -> LabelValues:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}")
        return tuple(labels)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> Iterable[str]:
        raise NotImplementedError


class Counter(_Family):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        if not name.endswith("_total"):
            raise ValueError("counter names end in _total")
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> Iterable[str]:
        for key, value in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labelnames, key)} {_number(value)}"


class Gauge(_Family):
    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}

    def set(self, value: float, *labels: str) -> None:
        self._values[self._key(labels)] = value

    def value(self, *labels: str) -> float | None:
        return self._values.get(self._key(labels))

    def samples(self) -> Iterable[str]:
        for key, value in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labelnames, key)} {_number(value)}"


class Histogram(_Family):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = PROBE_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}

    def observe(self, value: float, *labels: str) -> None:
        key = self._key(labels)
        counts = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                counts[index] += 1
                break
        else:
            counts[-1] += 1
        self._sums[key] = self._sums.get(key, 0.0) + value

    def samples(self) -> Iterable[str]:
        for key, counts in sorted(self._counts.items()):
            cumulative = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                cumulative += count
                le = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_labels(self.labelnames, key, le)} {cumulative}"
            plain = _labels(self.labelnames, key)
            yield f"{self.name}_sum{plain} {_number(self._sums[key])}"
            yield f"{self.name}_count{plain} {cumulative}"


class Metrics:
    """Every metric the sidecar exports; names start with `runestone_sidecar_`."""

    def __init__(self) -> None:
        self.probe_duration = Histogram(
            "runestone_sidecar_probe_duration_seconds",
            "How long one probe of the workload took.",
            ["target"],
        )
        self.probe_results = Counter(
            "runestone_sidecar_probe_results_total",
            "Probe outcomes by result (success or failure) and condition reason.",
            ["target", "result", "reason"],
        )
        self.patches = Counter(
            "runestone_sidecar_condition_patches_total",
            "Patches of the readiness-gate condition the API server accepted.",
            ["condition"],
        )
        self.patch_errors = Counter(
            "runestone_sidecar_patch_errors_total",
            "Failed reads or patches of the pod's status, by kind (conflict, unreachable, ...).",
            ["condition", "kind"],
        )
        self.transitions = Counter(
            "runestone_sidecar_condition_transitions_total",
            "Status changes (True/False) the sidecar wrote into the condition.",
            ["condition"],
        )
        self.condition_status = Gauge(
            "runestone_sidecar_condition_status",
            "The condition as last written to the pod: 1 True, 0 False.",
            ["condition"],
        )
        self.condition_in_sync = Gauge(
            "runestone_sidecar_condition_in_sync",
            "1 when the pod carries what the probes say, 0 while a write is pending or failing.",
            ["condition"],
        )

    def families(self) -> tuple[_Family, ...]:
        return (
            self.probe_duration,
            self.probe_results,
            self.patches,
            self.patch_errors,
            self.transitions,
            self.condition_status,
            self.condition_in_sync,
        )

    def render(self) -> str:
        lines: list[str] = []
        for family in self.families():
            lines.extend(family.header())
            lines.extend(family.samples())
        return "\n".join(lines) + "\n"
