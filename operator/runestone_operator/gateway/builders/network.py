"""Who may reach a gateway's pods: its NetworkPolicy (the API port from the configured
namespaces, or from anywhere; the gateway's and the sidecar's metrics ports from the monitoring
namespaces; nothing else), and the optional Prometheus Operator ServiceMonitor that scrapes the
metrics Service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runestone_operator.core import meta
from runestone_operator.core import names as core_names
from runestone_operator.gateway import model, names
from runestone_operator.gateway.builders import service

SERVICE_MONITOR_GROUP_VERSION = "monitoring.coreos.com/v1"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace: selects namespaces by name."""


def _from_namespaces(namespaces: Sequence[str]) -> dict[str, Any]:
    expression = {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(namespaces)}
    return {"namespaceSelector": {"matchExpressions": [expression]}}


def _ports(*numbers: int) -> list[dict[str, Any]]:
    return [{"port": number, "protocol": "TCP"} for number in numbers]


def network_policy(owner: meta.Owner, settings: model.NetworkPolicy) -> meta.Manifest:
    """The kubelet's probes need no rule (traffic from a pod's own node is always admitted)."""
    api: dict[str, Any] = {"ports": _ports(names.API_PORT)}
    if settings.api_from_namespaces:
        api = {"from": [_from_namespaces(settings.api_from_namespaces)], **api}
    ingress = [api]
    if settings.metrics_from_namespaces:
        ingress.append(
            {
                "from": [_from_namespaces(settings.metrics_from_namespaces)],
                "ports": _ports(names.HEALTH_PORT, core_names.SIDECAR_PORT),
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta.object_meta(
            owner, names.network_policy(owner.name), names.gateway_labels(owner.name)
        ),
        "spec": {
            "podSelector": {"matchLabels": names.gateway_selector(owner.name)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }


def service_monitor(owner: meta.Owner, settings: model.ServiceMonitor) -> meta.Manifest:
    """Scrapes both ports of the metrics Service (`service.metrics_service`)."""
    labels = {**settings.labels, **names.gateway_labels(owner.name)}
    return {
        "apiVersion": SERVICE_MONITOR_GROUP_VERSION,
        "kind": "ServiceMonitor",
        "metadata": meta.object_meta(owner, names.metrics_service(owner.name), labels),
        "spec": {
            "selector": {"matchLabels": service.metrics_labels(owner)},
            "endpoints": [
                {"port": port, "path": "/metrics", "interval": settings.interval}
                for port in ("metrics", "sidecar-metrics")
            ],
        },
    }
