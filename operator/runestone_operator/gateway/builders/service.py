"""The Services in front of the gateway pods: the client Service (the API port alone) and the
metrics Service (the gateway's and the sidecar's metrics, for scraping)."""

from __future__ import annotations

from runestone_operator.core import meta
from runestone_operator.core import names as core_names
from runestone_operator.gateway import model, names


def port(spec: model.GatewaySpec) -> int:
    """The Service's API port: as set, else 443 with TLS and 80 without."""
    if spec.service.port is not None:
        return spec.service.port
    return 80 if spec.tls.mode == "none" else 443


def url(owner: meta.Owner, spec: model.GatewaySpec) -> str:
    scheme = "http" if spec.tls.mode == "none" else "https"
    return f"{scheme}://{owner.name}.{owner.namespace}.svc:{port(spec)}"


def service(owner: meta.Owner, spec: model.GatewaySpec) -> meta.Manifest:
    scheme = "http" if spec.tls.mode == "none" else "https"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta.object_meta(owner, owner.name, names.gateway_labels(owner.name)),
        "spec": {
            "type": spec.service.type,
            "selector": names.gateway_selector(owner.name),
            "ports": [
                {
                    "name": scheme,
                    "port": port(spec),
                    "targetPort": "api",
                    "protocol": "TCP",
                    "appProtocol": scheme,
                },
            ],
        },
    }


def metrics_labels(owner: meta.Owner) -> dict[str, str]:
    return {**names.gateway_labels(owner.name), names.METRICS_LABEL: "true"}


def metrics_service(owner: meta.Owner) -> meta.Manifest:
    """`<name>-metrics`: the gateway's metrics (`/metrics` on its health port) and its
    sidecar's, which the NetworkPolicy admits from the monitoring namespaces only."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta.object_meta(
            owner, names.metrics_service(owner.name), metrics_labels(owner)
        ),
        "spec": {
            "type": "ClusterIP",
            "selector": names.gateway_selector(owner.name),
            "ports": [
                {
                    "name": "metrics",
                    "port": names.HEALTH_PORT,
                    "targetPort": "health",
                    "protocol": "TCP",
                },
                {
                    "name": "sidecar-metrics",
                    "port": core_names.SIDECAR_PORT,
                    "targetPort": "sidecar",
                    "protocol": "TCP",
                },
            ],
        },
    }
