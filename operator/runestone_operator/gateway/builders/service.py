"""The Service in front of the gateway pods: the API port and the health/metrics port."""

from __future__ import annotations

from runestone_operator.core import meta
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
                {
                    "name": "metrics",
                    "port": names.HEALTH_PORT,
                    "targetPort": "health",
                    "protocol": "TCP",
                },
            ],
        },
    }
