"""Kubernetes' QoS class of a pod spec, by its rule for CPU and memory, for the builders' tests:
Guaranteed when every container, init containers included, has both limits and requests equal
to them (an unset request is its limit); BestEffort when none has any; else Burstable."""

from __future__ import annotations

from typing import Any

from runestone_operator.core import quantities


def pod_class(pod: dict[str, Any]) -> str:
    classes = set()
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        resources = container.get("resources") or {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        if not limits and not requests:
            classes.add("BestEffort")
        elif all(
            name in limits
            and quantities.exact(requests.get(name, limits[name])) == quantities.exact(limits[name])
            for name in ("cpu", "memory")
        ):
            classes.add("Guaranteed")
        else:
            classes.add("Burstable")
    return classes.pop() if len(classes) == 1 else "Burstable"
