"""The operator's /metrics move as it works. Scraped before and after Gateways are created: the
Gateway reconciles counted by result, with one duration observation each; a Gateway that names
a ProviderPool that does not exist counted as a retry and under its Degraded reason; the work
queue's wait observed; the API calls counted by verb, resource and status code (Secrets created
by server-side apply answer 201); the objects managed per kind equal to what the API server
lists; and the process says it leads."""

from __future__ import annotations

from kubernetes import client

from devcluster import operator_process
from devcluster.kube import eventually
from integration.operator import objects
from runestone_operator.core import conditions

Samples = operator_process.Samples


def _grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return operator_process.summed(after, name, **labels) - operator_process.summed(
        before, name, **labels
    )


def _gateways_everywhere(api: client.ApiClient) -> int:
    listed = objects.custom(api).list_cluster_custom_object(
        objects.GROUP, objects.VERSION, "gateways"
    )
    return len(listed["items"])


def test_the_metrics_move_as_gateways_are_reconciled(
    kube_api: client.ApiClient, namespace: str, operator: operator_process.OperatorProcess
) -> None:
    before = operator.metrics()
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(kube_api, namespace, objects.gateway("metered", apiKeys=[{"name": "one"}]))
    objects.create(kube_api, namespace, objects.gateway("orphan", providerPools=[{"name": "gone"}]))
    objects.wait_condition(
        kube_api, namespace, "gateways", "metered", "Degraded", "False", timeout=90, what="healthy"
    )
    unknown = conditions.Reason.UNKNOWN_PROVIDER_POOL
    objects.wait_condition(
        kube_api,
        namespace,
        "gateways",
        "orphan",
        "Degraded",
        "True",
        unknown,
        timeout=90,
        what="Degraded for its missing pool",
    )
    report = objects.must(operator.health())
    operator.wait_for_resync_passes(report["resyncPasses"] + 1)

    def managed() -> Samples:
        samples = operator.metrics()
        counted = operator_process.summed(
            samples, "runestone_operator_managed_objects", kind="Gateway"
        )
        assert counted == _gateways_everywhere(kube_api) >= 2, counted
        return samples

    after = eventually(managed, timeout=60, interval=1, what="the managed Gateways counted")

    assert operator_process.summed(after, "runestone_operator_leader") == 1
    reconciles = "runestone_operator_reconciles_total"
    assert _grew(before, after, reconciles, kind="Gateway", result="success") >= 1
    assert _grew(before, after, reconciles, kind="Gateway", result="retry") >= 1
    # One duration observation per reconcile, whatever its result.
    assert _grew(
        before, after, "runestone_operator_reconcile_duration_seconds_count", kind="Gateway"
    ) == _grew(before, after, reconciles, kind="Gateway")
    assert _grew(before, after, "runestone_operator_reconcile_duration_seconds_sum") > 0
    errors = "runestone_operator_reconcile_errors_total"
    assert _grew(before, after, errors, kind="Gateway", reason=unknown) >= 1
    assert _grew(before, after, "runestone_operator_workqueue_wait_seconds_count") >= 2
    requests = "runestone_operator_api_requests_total"
    assert _grew(before, after, requests, verb="get", resource="gateways.runestone.dev", code="200")
    assert _grew(before, after, requests, verb="patch", resource="secrets", code="201") >= 2
    assert _grew(before, after, requests, verb="create", resource="events", code="201") >= 1
    # The queue's gauges are served (read at the scrape: nothing waits once the passes settled).
    assert ("runestone_operator_workqueue_depth", ()) in after
    assert ("runestone_operator_workqueue_in_flight", ()) in after
