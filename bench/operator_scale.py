"""The operator at scale on a real control plane: many Gateways and VectorClusters applied at
once, and how long until every child exists and every status is written.

    .venv/bin/python bench/operator_scale.py [--gateways 200] [--vectorclusters 50] [--workers 4]

Uses KUBECONFIG when set, otherwise the local control plane (RUNESTONE_CLUSTER_DIR and
RUNESTONE_CLUSTER_PORT_BASE choose which; started if needed). The operator runs as a process
(`runestone operator`, as installed) under its own ServiceAccount, ClusterRole and
leader-election Role, leading on its Lease. The objects are created from a thread pool as fast as
the API server takes them; completion is polled once a second.

The operator's figures are its own metrics, scraped from its /metrics before the objects are
created and once every status is written: reconciles by kind and result, their mean duration and
their p50/p99 as Prometheus' histogram_quantile estimates them from the duration histogram's
buckets, Degraded reasons, the work queue's wait, the API requests by verb (Kopf's watches are not
counted there) per reconcile, and the objects managed per kind. Besides: time to all children and
all statuses, the operator's resident memory (now and peak) and CPU, and the API server's
apiserver_request_total over the same window (every client, the controller-manager, scheduler and
kwok included). Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import math
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

import procstats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "devcluster"))

from devcluster import cluster, operator_process, resources
from runestone_operator.core import names as core_names
from runestone_operator.gateway import names
from runestone_operator.vectorcluster import names as vectornames

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


Samples = operator_process.Samples
RECONCILES = "runestone_operator_reconciles_total"
DURATION = "runestone_operator_reconcile_duration_seconds"
WAIT = "runestone_operator_workqueue_wait_seconds"
ERRORS = "runestone_operator_reconcile_errors_total"
REQUESTS = "runestone_operator_api_requests_total"
MANAGED = "runestone_operator_managed_objects"


def grown(before: Samples, after: Samples) -> Samples:
    """What each sample grew by between two scrapes (counters and histograms)."""
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def label_values(samples: Samples, name: str, label: str) -> list[str]:
    return sorted({dict(found)[label] for (sample, found) in samples if sample == name})


def histogram_quantile(quantile: float, samples: Samples, name: str, **labels: str) -> float:
    """The quantile of a histogram's observations as Prometheus' histogram_quantile estimates
    it: linear within the bucket that holds it (the highest finite bound when that is +Inf)."""
    buckets: dict[float, float] = {}
    for (sample, found), value in samples.items():
        found_labels = dict(found)
        if sample != f"{name}_bucket" or not set(labels.items()) <= set(found_labels.items()):
            continue
        bound = float(found_labels["le"])
        buckets[bound] = buckets.get(bound, 0.0) + value
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] == 0:
        return math.nan
    rank = quantile * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if math.isinf(bound):
                return lower
            share = (rank - below) / (buckets[bound] - below) if buckets[bound] > below else 1.0
            return lower + (bound - lower) * share
        lower, below = bound, buckets[bound]
    return lower


def vector_spec() -> dict[str, Any]:
    return {
        "version": "1.39.3",
        "replicas": 1,
        "storage": {"size": "1Gi"},
        "apiKeys": [{"name": "gateway", "role": "admin"}],
        "tls": {"mode": "selfSigned"},
    }


def children_present(api: client.ApiClient, namespace: str) -> dict[str, set[str]]:
    """Names of the children the operator made, by kind, as listed now."""
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    selector = f"{core_names.LABEL_MANAGED_BY}={core_names.MANAGED_BY}"
    listings: dict[str, Callable[..., Any]] = {
        "Deployment": apps.list_namespaced_deployment,
        "StatefulSet": apps.list_namespaced_stateful_set,
        "Service": core.list_namespaced_service,
        "ConfigMap": core.list_namespaced_config_map,
        "Secret": core.list_namespaced_secret,
    }
    return {
        kind: {item.metadata.name for item in listing(namespace, label_selector=selector).items}
        for kind, listing in listings.items()
    }


def missing(present: dict[str, set[str]], gateways: list[str], vectors: list[str]) -> list[str]:
    """The expected children not there yet (the ones each object cannot do without)."""
    wanted = [("Deployment", name) for name in gateways]
    wanted += [("Service", name) for name in gateways]
    wanted += [("ConfigMap", names.config_map(name)) for name in gateways]
    wanted += [("Secret", names.key_table_secret(name)) for name in gateways]
    wanted += [("StatefulSet", vectornames.statefulset(name)) for name in vectors]
    wanted += [("Service", vectornames.client_service(name)) for name in vectors]
    wanted += [("Service", vectornames.headless_service(name)) for name in vectors]
    return [f"{kind}/{name}" for kind, name in wanted if name not in present[kind]]


def statuses_pending(api: client.ApiClient, namespace: str, plural: str) -> int:
    """How many objects lack a status for their current generation."""
    listing = client.CustomObjectsApi(api).list_namespaced_custom_object(
        resources.GROUP, resources.VERSION, namespace, plural
    )
    pending = 0
    for item in listing["items"]:
        status = item.get("status") or {}
        if status.get("observedGeneration") != item["metadata"]["generation"] or not status.get(
            "conditions"
        ):
            pending += 1
    return pending


def apiserver_requests(api: client.ApiClient) -> dict[tuple[str, str], float]:
    """apiserver_request_total summed by verb and resource (every client of the API server)."""
    method, url, headers, body, _ = api.param_serialize(
        "GET", "/metrics", auth_settings=["BearerToken"]
    )
    response = api.call_api(method, url, header_params=headers, body=body)
    response.read()
    text = response.data.decode()
    totals: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels, _, value = line.rpartition(" ")
        verb = re.search(r'verb="([^"]+)"', labels)
        kind = re.search(r'resource="([^"]*)"', labels)
        key = (verb.group(1) if verb else "?", kind.group(1) if kind else "?")
        totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def create_all(api: client.ApiClient, namespace: str, bodies: list[dict[str, Any]]) -> float:
    """Create every object from 8 threads; returns when the last create answered."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(resources.create, api, namespace, body) for body in bodies]:
            future.result()
    return time.monotonic()


def timing(samples: Samples, name: str, **labels: str) -> str:
    """Mean, p50 and p99 (ms) of a histogram's observations."""
    count = operator_process.summed(samples, f"{name}_count", **labels)
    if not count:
        return "none"
    mean = operator_process.summed(samples, f"{name}_sum", **labels) / count
    p50 = histogram_quantile(0.5, samples, name, **labels)
    p99 = histogram_quantile(0.99, samples, name, **labels)
    return f"mean {mean * 1000:.1f} ms, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"


def run(options: argparse.Namespace, api: client.ApiClient, workdir: Path) -> None:
    core = client.CoreV1Api(api)
    extensions = client.ApiextensionsV1Api(api)
    for path in sorted((REPO / "crds").glob("*.yaml")):
        resources.install_crd(extensions, yaml.safe_load(path.read_text()))
    namespace = f"bench-scale-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    identity = operator_process.Identity(api, uuid.uuid4().hex[:6])
    token = identity.create()
    kubeconfig = operator_process.token_kubeconfig(api, token, workdir / "kubeconfig")
    process = operator_process.OperatorProcess(
        kubeconfig,
        workdir / "operator.log",
        options.resync_seconds,
        lease_namespace=identity.namespace,
    )
    process.extra_args = ["--workers", str(options.workers)]
    try:
        resources.create(api, namespace, resources.mock_pool("mock"))
        process.start()
        pid = process.pid
        time.sleep(2)  # let the watches settle
        idle_rss = procstats.rss_mb(pid)
        before = apiserver_requests(api)
        scraped = process.metrics()
        gateways = [f"gw-{i:03d}" for i in range(options.gateways)]
        vectors = [f"vc-{i:03d}" for i in range(options.vectorclusters)]
        bodies = [resources.gateway(name) for name in gateways]
        bodies += [
            {
                "apiVersion": f"{resources.GROUP}/{resources.VERSION}",
                "kind": "VectorCluster",
                "metadata": {"name": name},
                "spec": vector_spec(),
            }
            for name in vectors
        ]
        started = time.monotonic()
        cpu_before = procstats.cpu_seconds(pid)
        created = create_all(api, namespace, bodies)
        children_at = statuses_at = None
        peak_rss = 0.0
        deadline = started + options.timeout
        while time.monotonic() < deadline and statuses_at is None:
            peak_rss = max(peak_rss, procstats.rss_mb(pid))
            now = time.monotonic()
            if children_at is None and not missing(
                children_present(api, namespace), gateways, vectors
            ):
                children_at = now
            if (
                children_at is not None
                and statuses_pending(api, namespace, "gateways") == 0
                and statuses_pending(api, namespace, "vectorclusters") == 0
            ):
                statuses_at = now
            time.sleep(1)
        cpu = procstats.cpu_seconds(pid) - cpu_before
        after = apiserver_requests(api)
        settled_rss = procstats.rss_mb(pid)
        operator = process.metrics()
        # Objects managed are counted by resync passes: read them after the next one.
        health = process.health()
        assert health is not None, "the operator's liveness does not answer"
        process.wait_for_resync_passes(health["resyncPasses"] + 1, options.resync_seconds + 60)
        counted = process.metrics()
        present = children_present(api, namespace)
        report(
            options,
            created - started,
            None if children_at is None else children_at - started,
            None if statuses_at is None else statuses_at - started,
            (idle_rss, peak_rss, settled_rss),
            cpu,
            grown(scraped, operator),
            counted,
            before,
            after,
            present,
        )
    finally:
        process.stop()
        identity.delete()
        with contextlib.suppress(Exception):
            core.delete_namespace(namespace)


def report(
    options: argparse.Namespace,
    created: float,
    children: float | None,
    statuses: float | None,
    rss: tuple[float, float, float],
    cpu: float,
    grew: Samples,
    now: Samples,
    before: dict[tuple[str, str], float],
    after: dict[tuple[str, str], float],
    present: dict[str, set[str]],
) -> None:
    def seconds(value: float | None) -> str:
        return "not reached" if value is None else f"{value:.1f} s"

    print(f"command: {procstats.command_line()}")
    print(f"load average at the end: {procstats.load_average()}")
    print(
        f"{options.gateways} Gateways + {options.vectorclusters} VectorClusters (1 replica each), "
        f"operator --workers {options.workers}, resync {options.resync_seconds:g} s"
    )
    print(f"  all objects created after        {created:.1f} s")
    print(f"  every expected child exists after {seconds(children)}")
    print(f"  every status written after        {seconds(statuses)}")
    counts = ", ".join(f"{len(found)} {kind}s" for kind, found in present.items())
    print(f"  children then: {counts}")
    print(
        f"  operator RSS: {rss[0]:.1f} MB idle, peak {rss[1]:.1f} MB, {rss[2]:.1f} MB at the end;"
        f" CPU {cpu:.1f} s"
    )
    print("  from the operator's /metrics, over the run:")
    for kind in label_values(grew, RECONCILES, "kind"):
        if not operator_process.summed(grew, RECONCILES, kind=kind):
            continue
        results = ", ".join(
            f"{int(operator_process.summed(grew, RECONCILES, kind=kind, result=result))} {result}"
            for result in label_values(grew, RECONCILES, "result")
            if operator_process.summed(grew, RECONCILES, kind=kind, result=result)
        )
        print(f"  reconcile {kind:<14} {results}; {timing(grew, DURATION, kind=kind)}")
    reconciles = operator_process.summed(grew, RECONCILES)
    print(f"  reconcile (all)            {int(reconciles)}; {timing(grew, DURATION)}")
    errors = ", ".join(
        f"{reason} {int(operator_process.summed(grew, ERRORS, reason=reason))}"
        for reason in label_values(grew, ERRORS, "reason")
        if operator_process.summed(grew, ERRORS, reason=reason)
    )
    print(f"  Degraded reasons counted: {errors or 'none'}")
    print(f"  work-queue wait: {timing(grew, WAIT)}")
    calls = operator_process.summed(grew, REQUESTS)
    by_verb = ", ".join(
        f"{verb} {int(operator_process.summed(grew, REQUESTS, verb=verb))}"
        for verb in label_values(grew, REQUESTS, "verb")
        if operator_process.summed(grew, REQUESTS, verb=verb)
    )
    by_code = ", ".join(
        f"{code} {int(operator_process.summed(grew, REQUESTS, code=code))}"
        for code in label_values(grew, REQUESTS, "code")
        if operator_process.summed(grew, REQUESTS, code=code)
    )
    per = calls / reconciles if reconciles else math.nan
    print(
        f"  operator API requests (watches not counted): {by_verb}; by status {by_code}; "
        f"{per:.1f} per reconcile (the Lease's renewals included)"
    )
    managed = ", ".join(
        f"{int(operator_process.summed(now, MANAGED, kind=kind))} {kind}s"
        for kind in label_values(now, MANAGED, "kind")
    )
    leader = operator_process.summed(now, "runestone_operator_leader")
    print(f"  managed after the next resync pass: {managed}; leader {int(leader)}")
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    verbs: dict[str, float] = {}
    for (verb, _), count in delta.items():
        verbs[verb] = verbs.get(verb, 0) + count
    shown = ", ".join(f"{verb} {int(count)}" for verb, count in sorted(verbs.items()) if count)
    print(f"  apiserver_request_total delta (all clients): {int(sum(delta.values()))} ({shown})")
    top = sorted(delta.items(), key=lambda item: -item[1])[:12]
    print("    most: " + ", ".join(f"{verb} {kind} {int(count)}" for (verb, kind), count in top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=200)
    parser.add_argument("--vectorclusters", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="operator's concurrent reconciles")
    parser.add_argument("--resync-seconds", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    options = parser.parse_args()
    kubeconfig = os.environ.get("KUBECONFIG") or str(cluster.up())
    api = config.new_client_from_config(config_file=kubeconfig)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-operator-scale-") as tmp:
            run(options, api, Path(tmp))
    finally:
        api.close()


if __name__ == "__main__":
    main()
