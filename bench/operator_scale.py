"""The operator at scale on a real control plane: many Gateways and VectorClusters applied at
once, and how long until every child exists and every status is written.

    .venv/bin/python bench/operator_scale.py [--gateways 200] [--vectorclusters 50] [--workers 4]

Uses KUBECONFIG when set, otherwise the local control plane (RUNESTONE_CLUSTER_DIR and
RUNESTONE_CLUSTER_PORT_BASE choose which; started if needed). The operator runs as a process
under its own ServiceAccount and ClusterRole (bench/operator_timed.py: `runestone operator` with
a timer around each reconcile and a count of its HTTP requests). The objects are created from a
thread pool as fast as the API server takes them; completion is polled once a second.

Reported: time to all children and all statuses, the operator's resident memory (now and peak),
reconcile p50/p99 by kind, the operator's own API requests (watches separately) per reconcile,
and the API server's apiserver_request_total over the same window (every client, the
controller-manager, scheduler and kwok included). Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
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


class TimedOperator(operator_process.OperatorProcess):
    """The operator process of the integration tests, started through bench/operator_timed.py."""

    def __init__(self, kubeconfig: Path, workdir: Path, resync: float, workers: int) -> None:
        super().__init__(kubeconfig, workdir / "operator.log", resync)
        self.stats_path = workdir / "operator-stats.json"
        self.extra_args = ["--workers", str(workers)]

    def command(self) -> list[str]:
        runestone_operator_args = super().command()[2:]  # after `runestone operator`
        timed = [sys.executable, str(BENCH / "operator_timed.py"), str(self.stats_path)]
        return [*timed, *runestone_operator_args]

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid


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


def apiserver_requests(api: client.ApiClient) -> dict[str, float]:
    """apiserver_request_total summed by verb (every client of the API server)."""
    method, url, headers, body, _ = api.param_serialize(
        "GET", "/metrics", auth_settings=["BearerToken"]
    )
    response = api.call_api(method, url, header_params=headers, body=body)
    response.read()
    text = response.data.decode()
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels, _, value = line.rpartition(" ")
        verb = re.search(r'verb="([^"]+)"', labels)
        key = verb.group(1) if verb else "?"
        totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def create_all(api: client.ApiClient, namespace: str, bodies: list[dict[str, Any]]) -> float:
    """Create every object from 8 threads; returns when the last create answered."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(resources.create, api, namespace, body) for body in bodies]:
            future.result()
    return time.monotonic()


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"{len(values)} reconciles, p50 {procstats.percentile(values, 50) * 1000:.1f} ms, "
        f"p99 {procstats.percentile(values, 99) * 1000:.1f} ms, "
        f"max {max(values) * 1000:.1f} ms"
    )


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
    process = TimedOperator(kubeconfig, workdir, options.resync_seconds, options.workers)
    try:
        resources.create(api, namespace, resources.mock_pool("mock"))
        process.start()
        pid = process.pid
        time.sleep(2)  # let the watches settle
        idle_rss = procstats.rss_mb(pid)
        before = apiserver_requests(api)
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
        time.sleep(1.5)  # the stats file is rewritten every second
        stats = json.loads(process.stats_path.read_text())
        present = children_present(api, namespace)
        report(
            options,
            created - started,
            None if children_at is None else children_at - started,
            None if statuses_at is None else statuses_at - started,
            (idle_rss, peak_rss, settled_rss),
            cpu,
            stats,
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
    stats: dict[str, Any],
    before: dict[str, float],
    after: dict[str, float],
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
    reconciles = stats["reconciles"]
    for kind in sorted({entry[0] for entry in reconciles}):
        print(f"  reconcile {kind:<14} {summary([e[1] for e in reconciles if e[0] == kind])}")
    print(f"  reconcile (all)            {summary([e[1] for e in reconciles])}")
    requests = stats["requests"]
    calls = sum(count for verb, count in requests.items() if verb != "WATCH")
    per = calls / len(reconciles) if reconciles else float("nan")
    by_verb = ", ".join(f"{verb} {count}" for verb, count in sorted(requests.items()))
    print(f"  operator API requests: {by_verb}; {per:.1f} non-watch requests per reconcile")
    delta = {verb: after.get(verb, 0) - before.get(verb, 0) for verb in after}
    total = sum(delta.values())
    shown = ", ".join(f"{verb} {int(count)}" for verb, count in sorted(delta.items()) if count)
    print(f"  apiserver_request_total delta (all clients): {int(total)} ({shown})")


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
