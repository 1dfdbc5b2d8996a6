"""A Gateway whose replicas each count limits on their own says so: with the local limit store
and more than one replica (or an autoscaler), `LimitsShared` is False with a Warning Event, as
long as it lasts; a Redis store shares the counts (and keeps budgets across restarts)."""

from __future__ import annotations

from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects

REDIS = {"type": "redis", "url": "redis://redis.infra.svc:6379/0"}


def _events(api: client.ApiClient, namespace: str, reason: str, kind: str) -> list[str]:
    found = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"reason={reason},type={kind}"
    )
    messages = [str(event.message) for event in found.items]
    assert messages, f"no {kind} Event {reason}"
    return messages


def test_replicas_with_a_local_store_warn_that_limits_are_per_replica(
    kube_api: client.ApiClient, namespace: str
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(kube_api, namespace, objects.gateway("spread", replicas=2))
    warned = objects.wait_condition(
        kube_api,
        namespace,
        "gateways",
        "spread",
        "LimitsShared",
        "False",
        "PerReplicaLimits",
        timeout=60,
        what="LimitsShared False",
    )
    message = objects.must(objects.condition(warned, "LimitsShared"))["message"]
    assert "limits are per replica" in message
    assert "up to 2 times its limits and budget" in message
    assert objects.must(objects.condition(warned, "Degraded"))["status"] == "False"
    events = eventually(
        lambda: _events(kube_api, namespace, "PerReplicaLimits", "Warning"), what="the Warning"
    )
    assert events == [message]

    objects.patch(kube_api, namespace, "gateways", "spread", {"spec": {"rateLimitStore": REDIS}})
    objects.wait_condition(
        kube_api,
        namespace,
        "gateways",
        "spread",
        "LimitsShared",
        "True",
        "SharedStore",
        timeout=60,
        what="LimitsShared True with Redis",
    )
    shared = eventually(
        lambda: _events(kube_api, namespace, "SharedStore", "Normal"), what="the Normal Event"
    )
    assert "shared by every replica" in shared[0]
    assert _events(kube_api, namespace, "PerReplicaLimits", "Warning") == [message]  # no repeat


def test_one_replica_counts_every_limit(kube_api: client.ApiClient, namespace: str) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(kube_api, namespace, objects.gateway("single", replicas=1))
    objects.wait_condition(
        kube_api,
        namespace,
        "gateways",
        "single",
        "LimitsShared",
        "True",
        "SingleReplica",
        timeout=60,
        what="LimitsShared True",
    )
    events = client.CoreV1Api(kube_api).list_namespaced_event(
        namespace, field_selector="type=Warning"
    )
    assert [event.reason for event in events.items] == []
