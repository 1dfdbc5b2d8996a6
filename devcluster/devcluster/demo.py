"""`make demo`: the whole platform on this machine, installed the way a user installs it.

    python -m devcluster.demo up      # control plane, chart, operator, quickstart; then a snippet
    python -m devcluster.demo down    # stop exactly what `up` started

`up` builds (or reuses) the pinned Go programs, starts the local control plane, and starts two
helpers in the background: the process kubelet, which runs the containers of pods in namespaces
labelled for it as real processes, each pod on an address of its own, and a volume provisioner
for the members' claims. It then installs the Helm chart (CRDs, RBAC, the operator Deployment,
whose pod the process kubelet runs under the chart's ServiceAccount), applies
deploy/examples/quickstart.yaml, waits until the gateway's sidecar has opened the readiness
gate and the Weaviate members are ready, and prints how to call the gateway with the key the
operator issued. Everything it started is recorded in `.cluster/demo/state.json`.

How the quickstart is installed and followed is in devcluster.install, which the e2e tests share.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from devcluster import cluster, gobuild, layout, processes, storage, versions
from devcluster.install import (
    DEMO_NAMESPACE,
    EMBEDDINGS_PORT,
    QUICKSTART,
    QUICKSTART_MINILM,
    SYSTEM_NAMESPACE,
    VECTOR_CLUSTER,
    apply_quickstart,
    check_not_crashing,
    embed_with_minilm,
    ensure_namespace,
    gateway_endpoint,
    install_chart,
    log_tails,
    quickstart_progress,
    say,
    set_default_storage_class,
    snippet,
    uninstall_chart,
    vector_members,
    wait,
    wait_for,
    wait_for_operator,
)
from devcluster.kubelet import network

PROGRAMS = (
    versions.ETCD,
    versions.KUBERNETES,
    versions.KWOK,
    versions.WEAVIATE,
    versions.WEAVIATE_START,
    versions.HELM,
)


# -- the demo's own background processes --------------------------------------------------------


def demo_dir() -> Path:
    return layout.cluster_dir() / "demo"


@dataclasses.dataclass
class State:
    """What `up` started, so that `down` stops exactly that."""

    cluster_started: bool = False
    default_class_set: bool = False
    processes: dict[str, cluster.Process] = dataclasses.field(default_factory=dict)

    @staticmethod
    def path() -> Path:
        return demo_dir() / "state.json"

    @classmethod
    def load(cls) -> State | None:
        try:
            raw = json.loads(cls.path().read_text())
            return cls(
                cluster_started=bool(raw["cluster_started"]),
                default_class_set=bool(raw.get("default_class_set", False)),
                processes={
                    name: cluster.Process(int(p["pid"]), tuple(p["command"]), str(p["log"]))
                    for name, p in raw["processes"].items()
                },
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self) -> None:
        self.path().parent.mkdir(parents=True, exist_ok=True)
        self.path().write_text(json.dumps(dataclasses.asdict(self), indent=2))


def _background(name: str, command: list[str], state: State) -> None:
    """Start `command` detached from this terminal (it outlives `make demo`), unless the one
    recorded under `name` still runs."""
    running = state.processes.get(name)
    if running is not None and running.alive():
        say(f"{name} already running (pid {running.pid})")
        return
    log = demo_dir() / f"{name}.log"
    env = dict(os.environ, PYTHONPATH=str(cluster.REPO / "devcluster"))
    with open(log, "ab") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            cwd=cluster.REPO,
        )
    state.processes[name] = cluster.Process(process.pid, tuple(command), str(log))
    state.save()
    say(f"{name} started (pid {process.pid}, log {log})")


def provision(root: Path) -> int:
    """Run the volume provisioner until SIGTERM (the demo's background helper)."""
    kubeconfig = layout.kubeconfig_path()
    api = config.new_client_from_config(config_file=str(kubeconfig))
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with storage.provisioning(api, root):
        while not stopping:
            time.sleep(0.5)
    return 0


def up() -> int:
    started = time.monotonic()
    demo_dir().mkdir(parents=True, exist_ok=True)
    state = State.load() or State()
    say("building or reusing the pinned Go programs (cold builds take many minutes)")
    gobuild.ensure([program.name for program in PROGRAMS])
    _check_weaviate_version()

    if not cluster.is_up():
        cluster.up()
        state.cluster_started = True
        state.save()
    kubeconfig = layout.kubeconfig_path()
    api = config.new_client_from_config(config_file=str(kubeconfig))

    python = sys.executable
    _background(
        "kubelet",
        [
            python,
            "-m",
            "devcluster.kubelet",
            "--kubeconfig",
            str(kubeconfig),
            "--workdir",
            str(demo_dir() / "kubelet"),
        ],
        state,
    )
    _background(
        "provisioner",
        [python, "-m", "devcluster.demo", "provision", "--root", str(demo_dir() / "volumes")],
        state,
    )
    if not state.default_class_set:
        set_default_storage_class(api, True)
        state.default_class_set = True
        state.save()

    for namespace in (SYSTEM_NAMESPACE, DEMO_NAMESPACE):
        ensure_namespace(api, namespace)
    say(f"installing the Helm chart into {SYSTEM_NAMESPACE} (CRDs, RBAC, operator Deployment)")
    install_chart(kubeconfig, SYSTEM_NAMESPACE, {}, demo_dir() / "values.yaml")
    kubelet_log, pods_dir = demo_dir() / "kubelet.log", demo_dir() / "kubelet" / "pods"
    wait_for_operator(api, SYSTEM_NAMESPACE, kubelet_log=kubelet_log, pods_dir=pods_dir)

    say(f"kubectl apply -n {DEMO_NAMESPACE} -f {QUICKSTART.relative_to(cluster.REPO)}")
    for line in apply_quickstart(kubeconfig, DEMO_NAMESPACE).splitlines():
        say(f"  {line}")
    host = processes.HOST_FOR_PODS
    _background(
        "embeddings",
        [python, "-m", "devcluster.embeddings", "--host", host, "--port", str(EMBEDDINGS_PORT)],
        state,
    )
    say(f"the real embedding model (all-MiniLM-L6-v2) for the Gateway: {QUICKSTART_MINILM.name}")
    for line in embed_with_minilm(kubeconfig, DEMO_NAMESPACE).splitlines():
        say(f"  {line}")
    namespaces = (SYSTEM_NAMESPACE, DEMO_NAMESPACE)

    def progress() -> list[str]:
        check_not_crashing(kubelet_log, pods_dir, namespaces)
        return quickstart_progress(api, DEMO_NAMESPACE)

    wait_for("quickstart (gateway + sidecar gate, 3 Weaviate members)", progress, timeout=600)
    endpoint = gateway_endpoint(api, DEMO_NAMESPACE, demo_dir())
    wait_for("the gateway's vector stores", endpoint.vector_store_progress, timeout=60)
    script = demo_dir() / "hello.py"
    script.write_text(endpoint.sdk_script())
    script.chmod(0o600)  # it holds the key
    say(f"the gateway answers the printed SDK script: {_run_script(script)!r}")
    retrieval = demo_dir() / "retrieval.py"
    retrieval.write_text(endpoint.retrieval_script())
    retrieval.chmod(0o600)
    say("the printed retrieval script (a file into a vector store, a search, file_search):")
    for line in _run_script(retrieval).splitlines():
        say(f"  {line}")
    members = ", ".join(vector_members(api, DEMO_NAMESPACE, VECTOR_CLUSTER))
    say(f"VectorCluster {VECTOR_CLUSTER} members: {members}")
    say(f"ready in {time.monotonic() - started:.0f}s")
    print(snippet(endpoint, script, retrieval, kubeconfig, DEMO_NAMESPACE), flush=True)
    return 0


def _check_weaviate_version() -> None:
    documents = [d for d in yaml.safe_load_all(QUICKSTART.read_text()) if d]
    wanted = {d["spec"]["version"] for d in documents if d["kind"] == "VectorCluster"}
    built = {versions.WEAVIATE.version.removeprefix("v")}
    if not wanted <= built:
        raise SystemExit(
            f"{QUICKSTART.name} asks for Weaviate {sorted(wanted)}, the demo builds {sorted(built)}"
        )


def _run_script(script: Path) -> str:
    """Run the SDK script the demo prints, exactly as printed; its answer."""
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"the SDK script failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


def down() -> int:
    state = State.load()
    if state is None:
        say("no demo recorded here; nothing to stop")
        return 0
    if not state.cluster_started and cluster.is_up():
        _remove_from_cluster(state)
    kubelet = state.processes.get("kubelet")
    if kubelet is not None and kubelet.alive():
        # The kubelet stops its pods one after another, each within its grace period (Weaviate
        # members sleep in preStop first), before it exits.
        say("stopping the process kubelet and the pods it runs (a minute or so)")
        with contextlib.suppress(ProcessLookupError):
            os.kill(kubelet.pid, signal.SIGTERM)
        wait("the kubelet to stop its pods", lambda: not kubelet.alive(), 600, strict=False)
        if kubelet.alive():
            kubelet.stop(grace=0)
            _stop_leftover_containers()
            ports = cluster.current_ports()
            network.remove_from_loopback([*layout.networks(ports), layout.service_network(ports)])
        say(f"stopped kubelet (pid {kubelet.pid})")
    for name in ("provisioner", "embeddings"):
        helper = state.processes.get(name)
        if helper is not None and helper.alive():
            helper.stop()
            say(f"stopped {name} (pid {helper.pid})")
    if state.cluster_started:
        cluster.down()
    shutil.rmtree(demo_dir(), ignore_errors=True)
    say("demo stopped")
    return 0


def _remove_from_cluster(state: State) -> None:
    """On a control plane the demo found running (and leaves running): uninstall the chart and
    delete the demo's namespaces, letting the kubelet stop their pods gracefully."""
    kubeconfig = layout.kubeconfig_path()
    api = config.new_client_from_config(config_file=str(kubeconfig))
    core = client.CoreV1Api(api)
    try:
        uninstall_chart(kubeconfig, SYSTEM_NAMESPACE)
    except RuntimeError as error:
        say(f"helm uninstall: {error}")
    for namespace in (DEMO_NAMESPACE, SYSTEM_NAMESPACE):
        with contextlib.suppress(ApiException):
            core.delete_namespace(namespace)
    if state.default_class_set:
        set_default_storage_class(api, False)

    def pods_left() -> list[str]:
        pods = [
            p
            for ns in (DEMO_NAMESPACE, SYSTEM_NAMESPACE)
            for p in core.list_namespaced_pod(ns).items
        ]
        return [f"{len(pods)} pods still stopping"] if pods else []

    try:
        wait_for("the demo's pods to stop", pods_left, timeout=300, report_every=20)
    except TimeoutError as error:
        say(f"{error}; the kubelet stops the rest")


def _stop_leftover_containers() -> None:
    """Kill the containers a kubelet killed just now left behind: each container's process
    group, led by the PID the kubelet recorded beside the container's log, and only while that
    process still carries the pod's name in its environment (so never a recycled PID)."""
    for pid_file in (demo_dir() / "kubelet" / "pods").glob("*/*/*.pid"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(pid_file.read_text())
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            hostnames = [e.removeprefix(b"HOSTNAME=").decode() for e in environ]
            pod_folder = pid_file.parent.name
            if os.getpgid(pid) == pid and any(pod_folder.startswith(h + "-") for h in hostnames):
                os.killpg(pid, signal.SIGKILL)
                say(f"killed leftover container {pod_folder}/{pid_file.stem} ({pid})")


@contextlib.contextmanager
def _reporting_failures() -> Iterator[None]:
    try:
        yield
    except (RuntimeError, TimeoutError, ApiException, urllib.error.URLError) as error:
        say(f"failed: {error}")
        pods_dir, namespaces = demo_dir() / "kubelet" / "pods", [SYSTEM_NAMESPACE, DEMO_NAMESPACE]
        print(log_tails(demo_dir() / "kubelet.log", pods_dir, namespaces, 5), file=sys.stderr)
        say(f"logs: {demo_dir()} (kubelet.log, kubelet/pods/*/*/*.log); `make demo-down` stops it")
        raise SystemExit(1) from error


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devcluster.demo")
    parser.add_argument("action", choices=["up", "down", "provision"])
    parser.add_argument("--root", type=Path, help="provision: where volumes live")
    args = parser.parse_args(argv)
    if args.action == "provision":
        return provision(args.root or demo_dir() / "volumes")
    with _reporting_failures():
        return up() if args.action == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
