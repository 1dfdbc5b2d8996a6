"""A Gateway's NetworkPolicy (the API port from configured namespaces, the metrics ports from the
monitoring namespaces, nothing else) and its optional ServiceMonitor."""

from __future__ import annotations

from typing import Any

from runestone_operator.core import meta
from runestone_operator.gateway import model as gateway
from runestone_operator.gateway.builders import network, service

SELECTOR = {
    "app.kubernetes.io/name": "runestone-gateway",
    "app.kubernetes.io/instance": "main",
    "app.kubernetes.io/component": "gateway",
}


def _spec(**fields: Any) -> gateway.GatewaySpec:
    return gateway.GatewaySpec.model_validate({"providerPools": [{"name": "p"}], **fields})


def _namespaces(*names: str) -> dict[str, Any]:
    return {
        "namespaceSelector": {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(names)}
            ]
        }
    }


def test_by_default_anyone_calls_the_api_and_the_monitoring_namespace_scrapes(
    owner: meta.Owner,
) -> None:
    policy = network.network_policy(owner, _spec().network_policy)
    assert policy["kind"] == "NetworkPolicy"
    assert policy["metadata"]["name"] == "main"
    assert policy["metadata"]["ownerReferences"][0]["uid"] == owner.uid
    body = policy["spec"]
    assert body["podSelector"] == {"matchLabels": SELECTOR}
    assert body["policyTypes"] == ["Ingress"]
    api, metrics = body["ingress"]
    # No `from`: any source, outside the cluster too (a LoadBalancer's clients).
    assert api == {"ports": [{"port": 8080, "protocol": "TCP"}]}
    assert metrics == {
        "from": [_namespaces("monitoring")],
        "ports": [{"port": 8081, "protocol": "TCP"}, {"port": 8082, "protocol": "TCP"}],
    }
    # The sidecar's gRPC health port is admitted from nowhere (the kubelet needs no rule).
    assert "8083" not in str(body)


def test_configured_namespaces(owner: meta.Owner) -> None:
    settings = _spec(
        networkPolicy={"apiFromNamespaces": ["team-b", "team-a"], "metricsFromNamespaces": []}
    ).network_policy
    (api,) = network.network_policy(owner, settings)["spec"]["ingress"]
    assert api["from"] == [_namespaces("team-a", "team-b")]


def test_the_network_policy_is_on_unless_turned_off() -> None:
    assert _spec().network_policy.enabled
    assert not _spec(networkPolicy={"enabled": False}).network_policy.enabled


def test_a_service_monitor_scrapes_the_metrics_service(owner: meta.Owner) -> None:
    monitor = _spec(
        metrics={"serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"team": "x"}}}
    ).metrics.service_monitor
    manifest = network.service_monitor(owner, monitor)
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "ServiceMonitor"
    assert manifest["metadata"]["name"] == "main-metrics"
    assert manifest["metadata"]["labels"]["team"] == "x"
    selected = manifest["spec"]["selector"]["matchLabels"]
    assert selected.items() <= service.metrics_service(owner)["metadata"]["labels"].items()
    assert selected["runestone.dev/metrics"] == "true"
    assert manifest["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s"},
        {"port": "sidecar-metrics", "path": "/metrics", "interval": "15s"},
    ]


def test_no_service_monitor_by_default() -> None:
    assert not _spec().metrics.service_monitor.enabled
