"""`make demo`: the whole platform on this machine, installed the way a user installs it.

    python -m harness.demo up      # control plane, chart, operator, quickstart; then a snippet
    python -m harness.demo down    # stop exactly what `up` started

`up` builds (or reuses) the pinned Go programs, starts the local control plane, and starts two
helpers in the background: the process kubelet, which runs the containers of pods in namespaces
labelled for it as real processes on loopback addresses, and a volume provisioner for the
members' claims. It then installs the Helm chart (CRDs, RBAC, the operator Deployment, whose pod
the process kubelet runs under the chart's ServiceAccount), applies
deploy/examples/quickstart.yaml, waits until the gateway's sidecar has opened the readiness
gate and the Weaviate members are ready, and prints how to call the gateway with the key the
operator issued. Everything it started is recorded in `.cluster/demo/state.json`.

The e2e tests reuse these functions on the test session's cluster and process kubelet.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from harness import chart, cluster, gobuild, storage, versions
from harness import weaviate as weaviate_harness
from harness.kubelet import containers, runner
from runestone_operator import names, vectornames

SYSTEM_NAMESPACE = chart.NAMESPACE
DEMO_NAMESPACE = "runestone-demo"
QUICKSTART = chart.EXAMPLES / "quickstart.yaml"
GATEWAY = "quickstart"
KEY = "demo"
VECTOR_CLUSTER = "docs"
CHAT_MODEL = "mock-chat"
PROGRAMS = (versions.ETCD, versions.KUBERNETES, versions.KWOK, versions.WEAVIATE, versions.HELM)
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
OPERATOR_LABELS = "app.kubernetes.io/name=runestone,app.kubernetes.io/component=operator"


def _say(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


# -- pieces the e2e tests reuse ----------------------------------------------------------------


def harness_values() -> dict[str, Any]:
    """Chart values for this host: pod IPs are reached through their loopback stand-ins."""
    network_map = {"name": "RUNESTONE_POD_NETWORK_MAP", "value": weaviate_harness.POD_NETWORK_MAP}
    return {"operator": {"extraEnv": [network_map]}}


def ensure_namespace(api: client.ApiClient, name: str) -> None:
    """Create `name` (if missing) labelled so that the process kubelet runs its pods."""
    core = client.CoreV1Api(api)
    labels = {runner.NAMESPACE_LABEL: "true", "app.kubernetes.io/part-of": "runestone"}
    try:
        core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
        )
    except ApiException as error:
        if error.status != 409:
            raise
        core.patch_namespace(name, {"metadata": {"labels": labels}})
    # The ServiceAccount admission plugin refuses pods until the namespace's default account
    # exists.
    account = core.read_namespaced_service_account
    _wait(f"namespace {name}", lambda: _exists(account, "default", name))


def set_default_storage_class(api: client.ApiClient, default: bool) -> None:
    """Make the harness StorageClass the cluster's default (or stop it being the default), so
    that the quickstart's VectorCluster, which names no class, gets volumes as on a real
    cluster."""
    storage.ensure_storage_class(api)
    value = "true" if default else None
    body = {"metadata": {"annotations": {DEFAULT_CLASS_ANNOTATION: value}}}
    client.StorageV1Api(api).patch_storage_class(storage.STORAGE_CLASS, body)


def install_chart(
    kubeconfig: Path,
    namespace: str,
    values: Mapping[str, Any],
    values_file: Path,
    release: str = chart.RELEASE,
) -> None:
    """`helm upgrade --install` the chart (CRDs, RBAC, operator) into `namespace`."""
    values_file.write_text(yaml.safe_dump(dict(values), sort_keys=False))
    command: list[str | Path] = [chart.helm_binary(), "upgrade", "--install", release, chart.CHART]
    command += ["--namespace", namespace, "--values", values_file, "--timeout", "5m"]
    # The chart owns its CRDs: on a cluster where they were applied before by another hand
    # (kubectl, the test suite), the chart's server-side apply takes their fields over.
    command += ["--server-side", "true", "--force-conflicts"]
    chart.run(command, kubeconfig=kubeconfig)


def uninstall_chart(kubeconfig: Path, namespace: str, release: str = chart.RELEASE) -> None:
    command: list[str | Path] = [chart.helm_binary(), "uninstall", release, "-n", namespace]
    command += ["--ignore-not-found", "--wait", "--timeout", "2m"]
    chart.run(command, kubeconfig=kubeconfig)


def kubectl(kubeconfig: Path, *args: str) -> str:
    return chart.run([chart.kubectl_binary(), *args], kubeconfig=kubeconfig).stdout


def apply_quickstart(kubeconfig: Path, namespace: str) -> str:
    """`kubectl apply` the quickstart example, as its header tells a user to."""
    return kubectl(kubeconfig, "apply", "--namespace", namespace, "--filename", str(QUICKSTART))


def operator_pod(api: client.ApiClient, namespace: str) -> Any | None:
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=OPERATOR_LABELS)
    running = [p for p in pods.items if p.metadata.deletion_timestamp is None]
    return running[0] if running else None


def operator_health(api: client.ApiClient, namespace: str, port: int = 8080) -> dict[str, Any]:
    """The liveness report of the operator pod, read at the pod's address; raises until then."""
    pod = operator_pod(api, namespace)
    if pod is None or not pod.status.pod_ip:
        raise LookupError("the operator pod has no address yet")
    url = f"http://{containers.loopback_ip(pod.status.pod_ip)}:{port}/healthz"
    with urllib.request.urlopen(url, timeout=3) as response:
        report: dict[str, Any] = json.loads(response.read())
        return report


def gateway_pods(api: client.ApiClient, namespace: str, gateway: str = GATEWAY) -> list[Any]:
    selector = ",".join(f"{k}={v}" for k, v in names.gateway_selector(gateway).items())
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
    return [p for p in pods if p.metadata.deletion_timestamp is None]


def pod_conditions(pod: Any) -> dict[str, str]:
    return {c.type: c.status for c in pod.status.conditions or []}


def gateway_progress(api: client.ApiClient, namespace: str, gateway: str = GATEWAY) -> str | None:
    """None once every gateway pod is Ready through its gate; otherwise what is missing."""
    pods = gateway_pods(api, namespace, gateway)
    if not pods:
        return f"gateway {gateway}: no pods yet"
    waiting = []
    for pod in pods:
        conditions = pod_conditions(pod)
        gate = conditions.get(names.GATEWAY_READY_GATE, "not set")
        if conditions.get("Ready") != "True" or gate != "True":
            waiting.append(
                f"{pod.metadata.name} containers={conditions.get('ContainersReady', '-')} "
                f"gate={gate} ready={conditions.get('Ready', '-')}"
            )
    if not waiting:
        return None
    return f"gateway {gateway}: {len(pods) - len(waiting)}/{len(pods)} ready ({'; '.join(waiting)})"


def _custom(api: client.ApiClient, namespace: str, plural: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "runestone.dev", "v1alpha1", namespace, plural, name
    )
    return found


def condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            found: dict[str, Any] = item
            return found
    return None


def resource_progress(api: client.ApiClient, namespace: str, plural: str, name: str) -> str | None:
    """None once the object is Ready for its current generation; otherwise its state."""
    try:
        obj = _custom(api, namespace, plural, name)
    except ApiException as error:
        if error.status == 404:
            return f"{plural} {name}: not created yet"
        raise
    status = obj.get("status") or {}
    ready = condition(obj, "Ready")
    current = status.get("observedGeneration") == obj["metadata"]["generation"]
    if ready is not None and ready.get("status") == "True" and current:
        return None
    members = ""
    if plural == "vectorclusters":
        members = f" {status.get('readyReplicas') or 0}/{obj['spec'].get('replicas')} members,"
    detail = f"{ready.get('reason')}: {ready.get('message')}" if ready else "no status yet"
    return f"{plural} {name}:{members} {detail}"[:200]


def quickstart_progress(api: client.ApiClient, namespace: str) -> list[str]:
    """What still keeps the quickstart from being ready (empty once everything is)."""
    checks = (
        resource_progress(api, namespace, "providerpools", "mock"),
        resource_progress(api, namespace, "gateways", GATEWAY),
        gateway_progress(api, namespace),
        resource_progress(api, namespace, "vectorclusters", VECTOR_CLUSTER),
    )
    return [line for line in checks if line]


_EXITED = re.compile(r" (\S+)/(\S+)\[(\S+)\] exited with (\S+); restarting")


def check_not_crashing(
    kubelet_log: Path, pods_dir: Path, namespaces: Sequence[str], limit: int = 3
) -> None:
    """Raise, with the container's last log lines, once a container of `namespaces` has exited
    `limit` times: waiting longer for it would only wait out a crash loop."""
    if not kubelet_log.exists():
        return
    exits: dict[tuple[str, str, str], int] = {}
    for match in _EXITED.finditer(kubelet_log.read_text(errors="replace")):
        namespace, pod, container, _ = match.groups()
        if namespace in namespaces:
            exits[(namespace, pod, container)] = exits.get((namespace, pod, container), 0) + 1
    crashing = []
    for (namespace, pod, container), count in exits.items():
        if count >= limit:
            logs = sorted((pods_dir / namespace).glob(f"{pod}-*/{container}.log"))
            tail = logs[-1].read_text(errors="replace").splitlines()[-3:] if logs else []
            crashing.append(f"{pod}[{container}] exited {count} times: " + " | ".join(tail))
    if crashing:
        raise RuntimeError("crash loop: " + "; ".join(crashing))


def log_tails(kubelet_log: Path, pods_dir: Path, namespaces: Sequence[str], lines: int = 30) -> str:
    """The last lines of the kubelet's log and of every container log in `namespaces`."""
    logs = [kubelet_log]
    for namespace in namespaces:
        logs += sorted((pods_dir / namespace).glob("*/*.log"))
    parts = []
    for log in logs:
        if log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            parts.append(f"===== {log.parent.name}/{log.name}\n{tail}")
    return "\n".join(parts)


def wait_for(
    what: str,
    progress: Callable[[], list[str]],
    timeout: float,
    report_every: float = 10,
    say: Callable[[str], None] = _say,
) -> None:
    """Poll `progress` until it reports nothing left, printing what is left now and then."""
    started = time.monotonic()
    last_report, last_left = started, [""]
    while True:
        try:
            left = progress()
        except (ApiException, OSError, LookupError, ValueError) as error:
            left = [f"{type(error).__name__}: {error}"[:200]]
        now = time.monotonic()
        if not left:
            say(f"{what}: done in {now - started:.0f}s")
            return
        if now - started > timeout:
            raise TimeoutError(f"{what}: still waiting after {timeout:.0f}s: " + "; ".join(left))
        # Report what changed at once, and the same state again only now and then.
        if now - last_report >= report_every and (left != last_left or now - last_report >= 60):
            last_report, last_left = now, left
            say(f"{what} ({now - started:.0f}s): " + "; ".join(left))
        time.sleep(1)


def wait_for_operator(
    api: client.ApiClient,
    namespace: str,
    timeout: float = 180,
    kubelet_log: Path | None = None,
    pods_dir: Path | None = None,
) -> None:
    def progress() -> list[str]:
        if kubelet_log is not None and pods_dir is not None:
            check_not_crashing(kubelet_log, pods_dir, [namespace])
        operator_health(api, namespace)
        return []

    wait_for("operator (the chart's Deployment, run by the process kubelet)", progress, timeout)


def issued_key(
    api: client.ApiClient, namespace: str, gateway: str = GATEWAY, key: str = KEY
) -> str:
    """The plaintext key the operator issued into the key's Secret."""
    secret = client.CoreV1Api(api).read_namespaced_secret(names.key_secret(gateway, key), namespace)
    return base64.b64decode((secret.data or {})["api-key"]).decode()


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """How a client on this host reaches a gateway pod: at the pod's loopback address (there is
    no kube-proxy here), over HTTPS when the gateway serves it, verifying the certificate
    against the operator's CA and the Service's DNS name."""

    base_url: str
    api_key: str
    ca_file: Path | None = None
    server_name: str | None = None
    """The name the certificate is verified against (the URL names the pod by address)."""

    @property
    def address(self) -> str:
        return self.base_url.split("://", 1)[1].split("/", 1)[0]

    def curl(self, path: str, body: str) -> str:
        """A curl command line for `path` (e.g. /chat/completions) with a JSON body."""
        url = f"{self.base_url}{path}"
        tls = ""
        if self.server_name is not None:
            host, port = self.address.rsplit(":", 1)
            url = f"https://{self.server_name}:{port}/v1{path}"
            tls = f"--cacert {self.ca_file} --resolve {self.server_name}:{port}:{host} "
        return (
            f"curl -s {tls}{url} -H 'Authorization: Bearer {self.api_key}' \\\n"
            f"    -H 'Content-Type: application/json' -d '{body}'"
        )

    def sdk_script(self, model: str = CHAT_MODEL) -> str:
        """A Python script that asks the gateway for one chat completion with the openai SDK."""
        lines = ["from openai import OpenAI", ""]
        client_args = f'base_url="{self.base_url}", api_key="{self.api_key}"'
        if self.server_name is not None:
            lines = [
                "import ssl",
                "",
                "from openai import DefaultHttpxClient, OpenAI",
                "",
                "",
                "# The URL names the pod by address; the certificate names its Service.",
                "def verify_as_service(request):",
                f'    request.extensions["sni_hostname"] = "{self.server_name}"',
                "",
                "",
                "tls = DefaultHttpxClient(",
                f'    verify=ssl.create_default_context(cafile="{self.ca_file}"),',
                '    event_hooks={"request": [verify_as_service]},',
                ")",
            ]
            client_args += ", http_client=tls"
        lines += [
            f"client = OpenAI({client_args})",
            "reply = client.chat.completions.create(",
            f'    model="{model}", messages=[{{"role": "user", "content": "Hello"}}]',
            ")",
            "print(reply.choices[0].message.content)",
        ]
        return "\n".join(lines) + "\n"

    def openai_client(self, api_key: str | None = None) -> Any:
        """An `openai.OpenAI` client for this endpoint (another key when given)."""
        import openai

        http_client = None
        if self.server_name is not None:
            server_name = self.server_name

            def verify_as_service(request: Any) -> None:
                request.extensions["sni_hostname"] = server_name

            http_client = openai.DefaultHttpxClient(
                verify=ssl.create_default_context(cafile=str(self.ca_file)),
                event_hooks={"request": [verify_as_service]},
            )
        return openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or self.api_key,
            http_client=http_client,
            max_retries=0,
        )


def serves_tls(address: str) -> bool:
    """Whether the listener at host:port completes a TLS handshake (certificate not checked)."""
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only asking whether it speaks TLS at all
    try:
        with (
            socket.create_connection((host, int(port)), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=None),
        ):
            return True
    except (ssl.SSLError, OSError):
        return False


def gateway_endpoint(
    api: client.ApiClient, namespace: str, ca_folder: Path, gateway: str = GATEWAY, key: str = KEY
) -> Endpoint:
    """Where and how to call a ready gateway with one of its issued keys."""
    pods = [p for p in gateway_pods(api, namespace, gateway) if p.status.pod_ip]
    if not pods:
        raise LookupError(f"gateway {gateway} has no pod with an address")
    address = f"{containers.loopback_ip(pods[0].status.pod_ip)}:{names.API_PORT}"
    api_key = issued_key(api, namespace, gateway, key)
    if not serves_tls(address):
        return Endpoint(f"http://{address}/v1", api_key)
    ca = client.CoreV1Api(api).read_namespaced_secret(names.ca_secret(gateway), namespace)
    ca_file = ca_folder / f"{gateway}-ca.crt"
    ca_file.write_bytes(base64.b64decode((ca.data or {})["tls.crt"]))
    server_name = f"{gateway}.{namespace}.svc"
    return Endpoint(f"https://{address}/v1", api_key, ca_file, server_name)


def vector_members(api: client.ApiClient, namespace: str, cluster_name: str) -> list[str]:
    selector = vectornames.label_selector(cluster_name)
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
    return sorted(
        f"{p.metadata.name}={containers.loopback_ip(p.status.pod_ip)}"
        for p in pods
        if p.status.pod_ip
    )


def snippet(endpoint: Endpoint, script: Path, kubeconfig: Path, namespace: str) -> str:
    body = '{"model": "' + CHAT_MODEL + '", "messages": [{"role": "user", "content": "Hello"}]}'
    indented = "\n".join(
        f"    {line}" if line else "" for line in endpoint.sdk_script().splitlines()
    )
    return f"""
Runestone is running. Gateway `{GATEWAY}` in namespace {namespace} answers at {endpoint.address},
its pod's loopback address (there is no kube-proxy on this machine), with the key the operator
issued into Secret {names.key_secret(GATEWAY, KEY)}.

curl:

    {endpoint.curl("/chat/completions", body)}

OpenAI SDK ({script}, run with {sys.executable}):

{indented}

Look around:

    export KUBECONFIG={kubeconfig}
    {chart.kubectl_binary()} get rspp,rsgw,rsvc,pods -n {namespace}

Stop it all: make demo-down
"""


# -- the demo's own background processes --------------------------------------------------------


def demo_dir() -> Path:
    return cluster.cluster_dir() / "demo"


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
        _say(f"{name} already running (pid {running.pid})")
        return
    log = demo_dir() / f"{name}.log"
    env = dict(os.environ, PYTHONPATH=str(cluster.REPO / "tests"))
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
    _say(f"{name} started (pid {process.pid}, log {log})")


def provision(root: Path) -> int:
    """Run the volume provisioner until SIGTERM (the demo's background helper)."""
    kubeconfig = cluster.kubeconfig_path()
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
    _say("building or reusing the pinned Go programs (cold builds take many minutes)")
    gobuild.ensure([program.name for program in PROGRAMS])
    _check_weaviate_version()

    if not cluster.is_up():
        cluster.up()
        state.cluster_started = True
        state.save()
    kubeconfig = cluster.kubeconfig_path()
    api = config.new_client_from_config(config_file=str(kubeconfig))

    python = sys.executable
    _background(
        "kubelet",
        [
            python,
            "-m",
            "harness.kubelet",
            "--kubeconfig",
            str(kubeconfig),
            "--workdir",
            str(demo_dir() / "kubelet"),
        ],
        state,
    )
    _background(
        "provisioner",
        [python, "-m", "harness.demo", "provision", "--root", str(demo_dir() / "volumes")],
        state,
    )
    if not state.default_class_set:
        set_default_storage_class(api, True)
        state.default_class_set = True
        state.save()

    for namespace in (SYSTEM_NAMESPACE, DEMO_NAMESPACE):
        ensure_namespace(api, namespace)
    _say(f"installing the Helm chart into {SYSTEM_NAMESPACE} (CRDs, RBAC, operator Deployment)")
    install_chart(kubeconfig, SYSTEM_NAMESPACE, harness_values(), demo_dir() / "values.yaml")
    kubelet_log, pods_dir = demo_dir() / "kubelet.log", demo_dir() / "kubelet" / "pods"
    wait_for_operator(api, SYSTEM_NAMESPACE, kubelet_log=kubelet_log, pods_dir=pods_dir)

    _say(f"kubectl apply -n {DEMO_NAMESPACE} -f {QUICKSTART.relative_to(cluster.REPO)}")
    for line in apply_quickstart(kubeconfig, DEMO_NAMESPACE).splitlines():
        _say(f"  {line}")
    namespaces = (SYSTEM_NAMESPACE, DEMO_NAMESPACE)

    def progress() -> list[str]:
        check_not_crashing(kubelet_log, pods_dir, namespaces)
        return quickstart_progress(api, DEMO_NAMESPACE)

    wait_for("quickstart (gateway + sidecar gate, 3 Weaviate members)", progress, timeout=600)
    endpoint = gateway_endpoint(api, DEMO_NAMESPACE, demo_dir())
    script = demo_dir() / "hello.py"
    script.write_text(endpoint.sdk_script())
    script.chmod(0o600)  # it holds the key
    _say(f"the gateway answers the printed SDK script: {_run_script(script)!r}")
    members = ", ".join(vector_members(api, DEMO_NAMESPACE, VECTOR_CLUSTER))
    _say(f"VectorCluster {VECTOR_CLUSTER} members: {members}")
    _say(f"ready in {time.monotonic() - started:.0f}s")
    print(snippet(endpoint, script, kubeconfig, DEMO_NAMESPACE), flush=True)
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
        _say("no demo recorded here; nothing to stop")
        return 0
    if not state.cluster_started and cluster.is_up():
        _remove_from_cluster(state)
    kubelet = state.processes.get("kubelet")
    if kubelet is not None and kubelet.alive():
        # The kubelet stops its pods one after another, each within its grace period (Weaviate
        # members sleep in preStop first), before it exits.
        _say("stopping the process kubelet and the pods it runs (a minute or so)")
        with contextlib.suppress(ProcessLookupError):
            os.kill(kubelet.pid, signal.SIGTERM)
        _wait("the kubelet to stop its pods", lambda: not kubelet.alive(), 600, strict=False)
        if kubelet.alive():
            kubelet.stop(grace=0)
            _stop_leftover_containers()
        _say(f"stopped kubelet (pid {kubelet.pid})")
    provisioner = state.processes.get("provisioner")
    if provisioner is not None and provisioner.alive():
        provisioner.stop()
        _say(f"stopped provisioner (pid {provisioner.pid})")
    if state.cluster_started:
        cluster.down()
    shutil.rmtree(demo_dir(), ignore_errors=True)
    _say("demo stopped")
    return 0


def _remove_from_cluster(state: State) -> None:
    """On a control plane the demo found running (and leaves running): uninstall the chart and
    delete the demo's namespaces, letting the kubelet stop their pods gracefully."""
    kubeconfig = cluster.kubeconfig_path()
    api = config.new_client_from_config(config_file=str(kubeconfig))
    core = client.CoreV1Api(api)
    try:
        uninstall_chart(kubeconfig, SYSTEM_NAMESPACE)
    except RuntimeError as error:
        _say(f"helm uninstall: {error}")
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
        _say(f"{error}; the kubelet stops the rest")


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
                _say(f"killed leftover container {pod_folder}/{pid_file.stem} ({pid})")


def _exists(read: Callable[..., Any], *args: str) -> bool:
    try:
        read(*args)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def _wait(what: str, check: Callable[[], bool], timeout: float = 60, strict: bool = True) -> None:
    """Poll `check` until it holds; past `timeout`, raise (strict) or give up quietly."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            if not strict:
                return
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


@contextlib.contextmanager
def _reporting_failures() -> Iterator[None]:
    try:
        yield
    except (RuntimeError, TimeoutError, ApiException, urllib.error.URLError) as error:
        _say(f"failed: {error}")
        pods_dir, namespaces = demo_dir() / "kubelet" / "pods", [SYSTEM_NAMESPACE, DEMO_NAMESPACE]
        print(log_tails(demo_dir() / "kubelet.log", pods_dir, namespaces, 5), file=sys.stderr)
        _say(f"logs: {demo_dir()} (kubelet.log, kubelet/pods/*/*/*.log); `make demo-down` stops it")
        raise SystemExit(1) from error


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.demo")
    parser.add_argument("action", choices=["up", "down", "provision"])
    parser.add_argument("--root", type=Path, help="provision: where volumes live")
    args = parser.parse_args(argv)
    if args.action == "provision":
        return provision(args.root or demo_dir() / "volumes")
    with _reporting_failures():
        return up() if args.action == "up" else down()


if __name__ == "__main__":
    sys.exit(main())
