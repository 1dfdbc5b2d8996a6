"""Who may reach a gateway's pods, as objects the real API server accepts and whose selectors
pick exactly the right pods and namespaces: the NetworkPolicy per Gateway (API port from the
configured namespaces, metrics ports from the monitoring namespaces), the metrics Service apart
from the client Service, and the optional ServiceMonitor.

The local cluster has no network plugin, so no NetworkPolicy is enforced here (pods share the
host's network); what is checked is what a plugin would enforce: the policy's rules and what its
selectors select."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects, standins
from runestone_operator.gateway import names


@pytest.fixture
def service_monitor_api(kube_api: client.ApiClient) -> Iterator[None]:
    """A stand-in for the Prometheus Operator's ServiceMonitor CRD (the API only)."""
    with standins.installed(kube_api, standins.SERVICE_MONITOR_CRD):
        yield


@pytest.fixture
def scraper_namespace(kube_api: client.ApiClient, namespace: str) -> Iterator[str]:
    """A second namespace, standing for the one Prometheus runs in."""
    core = client.CoreV1Api(kube_api)
    name = f"{namespace[:50]}-mon"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        core.delete_namespace(name)


def _selector(match: dict[str, Any]) -> str:
    """A label selector's matchLabels / matchExpressions (operator In) as a query string."""
    terms = [f"{key}={value}" for key, value in (match.get("matchLabels") or {}).items()]
    for expression in match.get("matchExpressions") or []:
        assert expression["operator"] == "In"
        terms.append(f"{expression['key']} in ({','.join(expression['values'])})")
    return ",".join(terms)


def _labels(selector: dict[str, Any]) -> dict[str, Any]:
    """A podSelector as the Python client returns it, as a selector `_selector` reads."""
    return {"matchLabels": selector["match_labels"]}


def _pod_names(core: client.CoreV1Api, namespace: str, selector: str) -> list[str]:
    return sorted(
        p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=selector).items
    )


def _running(core: client.CoreV1Api, namespace: str, gateway: str, count: int) -> list[str]:
    pods = [p for p in objects.gateway_pods(core.api_client, namespace, gateway) if p.status.pod_ip]
    assert len(pods) == count, f"{len(pods)} of {count} pods of {gateway}"
    return sorted(p.metadata.name for p in pods)


def test_the_network_policy_and_services_select_the_gateway_pods(
    kube_api: client.ApiClient, namespace: str, scraper_namespace: str
) -> None:
    core, networking = client.CoreV1Api(kube_api), client.NetworkingV1Api(kube_api)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    policy = {"apiFromNamespaces": [namespace], "metricsFromNamespaces": [scraper_namespace]}
    objects.create(kube_api, namespace, objects.gateway("fenced", replicas=2, networkPolicy=policy))
    objects.create(kube_api, namespace, objects.gateway("other", replicas=1))
    fenced = eventually(lambda: _running(core, namespace, "fenced", 2), timeout=90, what="pods")
    others = eventually(lambda: _running(core, namespace, "other", 1), timeout=90, what="pods")

    applied = eventually(
        lambda: networking.read_namespaced_network_policy("fenced", namespace),
        what="the NetworkPolicy",
    ).to_dict()
    body = applied["spec"]
    assert body["policy_types"] == ["Ingress"]
    assert _pod_names(core, namespace, _selector(_labels(body["pod_selector"]))) == fenced
    api_rule, metrics_rule = body["ingress"]
    assert [p["port"] for p in api_rule["ports"]] == [names.API_PORT]
    assert [p["port"] for p in metrics_rule["ports"]] == [names.HEALTH_PORT, 8082]
    for rule, allowed in ((api_rule, namespace), (metrics_rule, scraper_namespace)):
        (peer,) = rule["_from"]
        selector = peer["namespace_selector"]
        expressions = [
            {"key": e["key"], "operator": e["operator"], "values": e["values"]}
            for e in selector["match_expressions"]
        ]
        listed = core.list_namespace(label_selector=_selector({"matchExpressions": expressions}))
        assert [n.metadata.name for n in listed.items] == [allowed]
    # The other Gateway has a policy of its own, open to any client (its default).
    default = networking.read_namespaced_network_policy("other", namespace).to_dict()["spec"]
    assert _pod_names(core, namespace, _selector(_labels(default["pod_selector"]))) == others
    assert default["ingress"][0].get("_from") is None

    # Clients reach the API port only; the metrics Service selects the same pods.
    ports = core.read_namespaced_service("fenced", namespace).spec.ports
    assert [(p.name, p.target_port) for p in ports] == [("https", "api")]
    metrics = core.read_namespaced_service(names.metrics_service("fenced"), namespace)
    assert {(p.name, p.port) for p in metrics.spec.ports} == {
        ("metrics", 8081),
        ("sidecar-metrics", 8082),
    }
    assert _pod_names(core, namespace, _selector({"matchLabels": metrics.spec.selector})) == fenced

    objects.patch(
        kube_api, namespace, "gateways", "fenced", {"spec": {"networkPolicy": {"enabled": False}}}
    )
    eventually(
        lambda: not objects.exists(networking.read_namespaced_network_policy, "fenced", namespace),
        timeout=60,
        what="the NetworkPolicy to go once turned off",
    )


def test_a_service_monitor_without_its_api_is_a_clear_problem(
    kube_api: client.ApiClient, namespace: str
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    scraped = {"serviceMonitor": {"enabled": True}}
    objects.create(kube_api, namespace, objects.gateway("unwatched", metrics=scraped))
    degraded = objects.wait_condition(
        kube_api,
        namespace,
        "gateways",
        "unwatched",
        "Degraded",
        "True",
        "ServiceMonitorUnavailable",
        timeout=60,
        what="Degraded ServiceMonitorUnavailable",
    )
    assert (
        "monitoring.coreos.com/v1"
        in objects.must(objects.condition(degraded, "Degraded"))["message"]
    )
    # Everything else is in place: the gateway serves, it is only not scraped.
    apps = client.AppsV1Api(kube_api)
    assert objects.exists(apps.read_namespaced_deployment, "unwatched", namespace)
    assert objects.exists(
        client.NetworkingV1Api(kube_api).read_namespaced_network_policy, "unwatched", namespace
    )


def test_a_service_monitor_needs_its_api_and_scrapes_the_metrics_service(
    kube_api: client.ApiClient, namespace: str, service_monitor_api: None
) -> None:
    core = client.CoreV1Api(kube_api)
    monitors = objects.custom(kube_api)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    scraped = {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}}
    objects.create(kube_api, namespace, objects.gateway("watched", metrics=scraped))
    monitor = eventually(
        lambda: monitors.get_namespaced_custom_object(
            "monitoring.coreos.com", "v1", namespace, "servicemonitors", "watched-metrics"
        ),
        timeout=60,
        what="the ServiceMonitor",
    )
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics", "sidecar-metrics"]
    selected = core.list_namespaced_service(
        namespace, label_selector=_selector(monitor["spec"]["selector"])
    )
    assert [s.metadata.name for s in selected.items] == ["watched-metrics"]
    objects.wait_condition(
        kube_api, namespace, "gateways", "watched", "Degraded", "False", timeout=60, what="healthy"
    )

    objects.patch(
        kube_api,
        namespace,
        "gateways",
        "watched",
        {"spec": {"metrics": {"serviceMonitor": {"enabled": False}}}},
    )
    eventually(
        lambda: (
            not objects.exists(
                monitors.get_namespaced_custom_object,
                "monitoring.coreos.com",
                "v1",
                namespace,
                "servicemonitors",
                "watched-metrics",
            )
        ),
        timeout=60,
        what="the ServiceMonitor to go once turned off",
    )
