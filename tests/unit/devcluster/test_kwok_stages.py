"""The kwok stages never set readiness-gate conditions themselves (only the sidecar may)."""

from __future__ import annotations

from typing import Any

import yaml

from devcluster.cluster import STAGES


def _stages() -> dict[str, Any]:
    return {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(STAGES.read_text()) if doc}


def test_pod_stages_never_write_gate_conditions() -> None:
    for name, stage in _stages().items():
        template = str(stage["spec"]["next"].get("statusTemplate", ""))
        # A gate condition's type comes from spec.readinessGates; emitting it would forge the gate.
        assert "type: {{ .conditionType" not in template, name
        assert "type: {{ $gate.conditionType" not in template, name


def test_ready_is_recomputed_when_gates_change() -> None:
    stages = _stages()
    assert {"pod-start", "pod-readiness-gates", "node-initialize", "node-heartbeat"} <= set(stages)
    selector = str(stages["pod-readiness-gates"]["spec"]["selector"])
    assert "readinessGates" in selector
