"""The Service and the URL in status."""

from __future__ import annotations

import pytest

from runestone_operator.core import meta
from runestone_operator.gateway import model as gateway
from runestone_operator.gateway.builders import service


@pytest.mark.parametrize(
    ("extra", "port", "url"),
    [
        ({}, 443, "https://main.team.svc:443"),
        ({"tls": {"mode": "none"}}, 80, "http://main.team.svc:80"),
        ({"service": {"port": 8443}}, 8443, "https://main.team.svc:8443"),
    ],
)
def test_port_and_url(owner: meta.Owner, extra: dict[str, object], port: int, url: str) -> None:
    spec = gateway.GatewaySpec.model_validate({"providerPools": [{"name": "p"}], **extra})
    assert service.port(spec) == port
    assert service.url(owner, spec) == url
    manifest = service.service(owner, spec)
    api = manifest["spec"]["ports"][0]
    assert (api["port"], api["targetPort"]) == (port, "api")
    assert manifest["spec"]["selector"] == {
        "app.kubernetes.io/name": "runestone-gateway",
        "app.kubernetes.io/instance": "main",
        "app.kubernetes.io/component": "gateway",
    }
    assert manifest["metadata"]["name"] == "main"


def test_clients_reach_the_api_port_only(owner: meta.Owner) -> None:
    """The health and metrics ports are no part of the Service clients use."""
    spec = gateway.GatewaySpec.model_validate({"providerPools": [{"name": "p"}]})
    ports = service.service(owner, spec)["spec"]["ports"]
    assert [(p["name"], p["targetPort"]) for p in ports] == [("https", "api")]


def test_metrics_have_a_service_of_their_own(owner: meta.Owner) -> None:
    manifest = service.metrics_service(owner)
    assert manifest["metadata"]["name"] == "main-metrics"
    assert manifest["metadata"]["labels"]["runestone.dev/metrics"] == "true"
    assert manifest["metadata"]["ownerReferences"][0]["uid"] == owner.uid
    assert manifest["spec"]["selector"] == {
        "app.kubernetes.io/name": "runestone-gateway",
        "app.kubernetes.io/instance": "main",
        "app.kubernetes.io/component": "gateway",
    }
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in manifest["spec"]["ports"]}
    assert ports == {"metrics": (8081, "health"), "sidecar-metrics": (8082, "sidecar")}
