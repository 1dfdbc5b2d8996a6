"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (fake nodes whose pods honour readiness gates).

    python -m devcluster.cluster up       # idempotent; leaves .cluster/kubeconfig
    python -m devcluster.cluster down     # stops exactly the processes `up` started
    python -m devcluster.cluster status

The processes outlive the command that started them (make, pytest) and are recorded with their
PIDs and command lines in `.cluster/state.json`, so `down` never signals a stranger's process.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from devcluster import gobuild, layout, pki, versions

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
STAGES = HERE / "kwok-stages.yaml"
"""kwok's pod and node stages: pods honour readiness gates as on a kubelet."""
POD_ADDRESS_POLICY = HERE / "pod-address-policy.yaml"
"""Marks the pods whose address the process kubelet gives (see devcluster.kubelet.network)."""
AUDIT_POLICY = HERE / "audit-policy.yaml"
"""What the API server writes to its audit log (`audit_log`): the requests of the ServiceAccounts
of namespace `AUDITED_NAMESPACE`, at Metadata level."""
AUDITED_NAMESPACE = "runestone-audit"
NODES = ("kwok-node-0", "kwok-node-1", "kwok-node-2")
NODE_ANNOTATION = "kwok.x-k8s.io/node"


def _say(message: str) -> None:
    print(f"[cluster] {message}", file=sys.stderr, flush=True)


def _kubeconfig(pki_dir: Path, client: str, server: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "runestone-local",
                "cluster": {"server": server, "certificate-authority": str(pki_dir / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": client,
                "user": {
                    "client-certificate": str(pki_dir / f"{client}.crt"),
                    "client-key": str(pki_dir / f"{client}.key"),
                },
            }
        ],
        "contexts": [
            {"name": "runestone-local", "context": {"cluster": "runestone-local", "user": client}}
        ],
        "current-context": "runestone-local",
    }


def _write_kubeconfigs(root: Path, pki_dir: Path, server: str) -> None:
    for client in pki.CLIENTS:
        target = (
            layout.kubeconfig_path()
            if client.name == "admin"
            else root / f"{client.name}.kubeconfig"
        )
        target.write_text(yaml.safe_dump(_kubeconfig(pki_dir, client.name, server)))
        target.chmod(0o600)


def _commands(root: Path, bins: dict[str, Path], ports: layout.Ports) -> dict[str, list[str]]:
    p = root / "pki"
    return {
        "etcd": [
            str(bins["etcd"]),
            "--name=runestone",
            f"--data-dir={root / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{ports.etcd_client}",
            f"--advertise-client-urls=http://127.0.0.1:{ports.etcd_client}",
            f"--listen-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{ports.etcd_peer}",
            f"--initial-cluster=runestone=http://127.0.0.1:{ports.etcd_peer}",
            "--unsafe-no-fsync=true",  # a test cluster: speed over durability on power loss
            "--log-level=warn",
        ],
        "kube-apiserver": [
            str(bins["kube-apiserver"]),
            f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={ports.apiserver}",
            f"--tls-cert-file={p / 'apiserver.crt'}",
            f"--tls-private-key-file={p / 'apiserver.key'}",
            f"--client-ca-file={p / 'ca.crt'}",
            f"--service-account-key-file={p / 'service-account.pub'}",
            f"--service-account-signing-key-file={p / 'service-account.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={layout.service_network(ports)}",
            "--authorization-mode=Node,RBAC",
            # OwnerReferencesPermissionEnforcement, as some distributions run it: setting
            # blockOwnerDeletion needs update on the owner's finalizers.
            "--enable-admission-plugins=NodeRestriction,OwnerReferencesPermissionEnforcement",
            f"--audit-policy-file={AUDIT_POLICY}",
            f"--audit-log-path={layout.audit_log(root)}",
            "--audit-log-format=json",
            "--audit-log-maxsize=100",
            "--audit-log-maxbackup=1",
            "--allow-privileged=true",
            # Loopback tests burst far above what a kubelet sends; do not throttle them.
            "--enable-priority-and-fairness=false",
            "--v=0",
        ],
        "kube-controller-manager": [
            str(bins["kube-controller-manager"]),
            f"--kubeconfig={root / 'kube-controller-manager.kubeconfig'}",
            f"--authentication-kubeconfig={root / 'kube-controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={root / 'kube-controller-manager.kubeconfig'}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports.controller_manager}",
            f"--service-account-private-key-file={p / 'service-account.key'}",
            f"--root-ca-file={p / 'ca.crt'}",
            f"--cluster-signing-cert-file={p / 'ca.crt'}",
            f"--cluster-signing-key-file={p / 'ca.key'}",
            f"--service-cluster-ip-range={layout.service_network(ports)}",
            "--use-service-account-credentials=true",
            "--controllers=*",
            "--leader-elect=false",
            "--concurrent-gc-syncs=10",
            "--v=0",
        ],
        "kube-scheduler": [
            str(bins["kube-scheduler"]),
            f"--kubeconfig={root / 'kube-scheduler.kubeconfig'}",
            f"--authentication-kubeconfig={root / 'kube-scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={root / 'kube-scheduler.kubeconfig'}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports.scheduler}",
            "--leader-elect=false",
            "--v=0",
        ],
        "kwok": [
            str(bins["kwok"]),
            f"--kubeconfig={root / 'kwok.kubeconfig'}",
            f"--config={STAGES}",
            f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
            f"--cidr={layout.pod_cidr(ports)}",
            "--node-ip=10.0.0.1",
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{ports.kwok}",
        ],
    }


ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


@dataclass(frozen=True)
class Process:
    """One control-plane process `up` started."""

    pid: int
    command: tuple[str, ...]
    log: str

    def alive(self) -> bool:
        """True when `pid` still runs the binary we started (not a recycled PID)."""
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return cmdline[0].decode() == self.command[0]

    def stop(self, grace: float = 15) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


@dataclass
class State:
    """What `up` started, persisted so that a later `down` stops exactly that."""

    ports: layout.Ports
    processes: dict[str, Process] = field(default_factory=dict)

    @staticmethod
    def path() -> Path:
        return layout.cluster_dir() / "state.json"

    @classmethod
    def load(cls) -> State | None:
        try:
            raw = json.loads(cls.path().read_text())
            return cls(
                ports=layout.Ports(**raw["ports"]),
                processes={
                    name: Process(int(p["pid"]), tuple(p["command"]), str(p["log"]))
                    for name, p in raw["processes"].items()
                },
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self) -> None:
        self.path().write_text(json.dumps(dataclasses.asdict(self), indent=2))


def current_ports() -> layout.Ports:
    """The ports of the control plane `up` started here, or those the environment asks for."""
    state = State.load()
    return state.ports if state is not None else layout.Ports.from_env()


def _ssl_context(root: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(root / "pki" / "ca.crt"))
    context.load_cert_chain(root / "pki" / "admin.crt", root / "pki" / "admin.key")
    return context


def _get(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> int:
    """The HTTP status of GET `url`, or 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def _tail(log: Path | None, lines: int = 25) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _wait(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{_tail(log)}")
        time.sleep(0.25)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}\n{_tail(log)}")


def is_up() -> bool:
    state = State.load()
    if state is None or set(state.processes) != set(ORDER):
        return False
    if not all(process.alive() for process in state.processes.values()):
        return False
    url = f"https://127.0.0.1:{state.ports.apiserver}/readyz"
    return _get(url, _ssl_context(layout.cluster_dir())) == 200


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    root = layout.cluster_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up() -> Path:
    """Start the control plane unless it is already running; return the admin kubeconfig path."""
    with _lock():
        return _up()


def _up() -> Path:
    root = layout.cluster_dir()
    started = time.monotonic()
    if is_up():
        _say(f"already running; kubeconfig: {layout.kubeconfig_path()}")
        return layout.kubeconfig_path()
    _down_locked(quiet=True)  # a half-started or crashed previous run: clear it first

    bins = gobuild.ensure([program.name for program in versions.CONTROL_PLANE])
    ports = layout.Ports.from_env()
    pki_dir = pki.ensure(root / "pki")
    _write_kubeconfigs(root, pki_dir, f"https://127.0.0.1:{ports.apiserver}")
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    commands = _commands(root, bins, ports)
    context = _ssl_context(root)
    insecure = _insecure()

    checks: dict[str, Callable[[], bool]] = {
        "etcd": lambda: _get(f"http://127.0.0.1:{ports.etcd_client}/health") == 200,
        "kube-apiserver": lambda: (
            _get(f"https://127.0.0.1:{ports.apiserver}/readyz", context) == 200
        ),
        "kube-controller-manager": lambda: (
            _get(f"https://127.0.0.1:{ports.controller_manager}/healthz", insecure) == 200
        ),
        "kube-scheduler": lambda: (
            _get(f"https://127.0.0.1:{ports.scheduler}/healthz", insecure) == 200
        ),
        "kwok": lambda: _get(f"http://127.0.0.1:{ports.kwok}/healthz") == 200,
    }
    state = State(ports=ports)
    for name in ORDER:
        log = logs / f"{name}.log"
        with open(log, "ab") as log_file:
            process = subprocess.Popen(
                commands[name],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=root,
            )
        state.processes[name] = Process(process.pid, tuple(commands[name]), str(log))
        state.save()
        _wait(name, checks[name], 90, process, log)
        _say(f"{name} is up (pid {process.pid})")

    _register_nodes()
    kubectl("apply", "-f", str(POD_ADDRESS_POLICY))
    _wait_for_default_service_account()
    kubeconfig = layout.kubeconfig_path()
    _say(f"control plane ready in {time.monotonic() - started:.1f}s; kubeconfig: {kubeconfig}")
    return kubeconfig


def _insecure() -> ssl.SSLContext:
    # Component health endpoints use self-signed serving certificates made at start-up.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def kubectl(
    *args: str, input_text: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the kubectl built with the control plane against the local cluster."""
    bins = gobuild.ensure([versions.KUBERNETES.name])
    env = dict(os.environ, KUBECONFIG=str(layout.kubeconfig_path()))
    return subprocess.run(
        [str(bins["kubectl"]), *args],
        input=input_text,
        env=env,
        check=check,
        capture_output=True,
        text=True,
    )


def _register_nodes() -> None:
    nodes = []
    for name in NODES:
        nodes.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {NODE_ANNOTATION: "fake"},
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                        "topology.kubernetes.io/zone": f"zone-{name[-1]}",
                    },
                },
                "spec": {},
            }
        )
    kubectl("apply", "-f", "-", input_text="\n---\n".join(yaml.safe_dump(n) for n in nodes))

    def all_ready() -> bool:
        out = kubectl("get", "nodes", "-o", "json", check=False)
        if out.returncode != 0:
            return False
        items = json.loads(out.stdout)["items"]
        ready = [
            node
            for node in items
            for c in node.get("status", {}).get("conditions", [])
            if c["type"] == "Ready" and c["status"] == "True"
        ]
        return len(ready) >= len(NODES)

    _wait("kwok nodes to become Ready", all_ready, 60)
    _say(f"{len(NODES)} kwok nodes are Ready")


def _wait_for_default_service_account() -> None:
    _wait(
        "the default ServiceAccount",
        lambda: (
            kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode
            == 0
        ),
        60,
    )


def stop_component(name: str) -> None:
    """Stop one control-plane process (e.g. kube-apiserver, to test outages)."""
    with _lock():
        state = State.load()
        if state is None or name not in state.processes:
            raise RuntimeError(f"{name} was not started by `up`")
        state.processes[name].stop()


def start_component(name: str) -> None:
    """Start one stopped control-plane process again with its recorded command line."""
    with _lock():
        state = State.load()
        if state is None or name not in state.processes:
            raise RuntimeError(f"{name} was never started by `up`")
        old = state.processes[name]
        if old.alive():
            return
        with open(old.log, "ab") as log_file:
            process = subprocess.Popen(
                list(old.command),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=layout.cluster_dir(),
            )
        state.processes[name] = Process(process.pid, old.command, old.log)
        state.save()
        _say(f"{name} restarted (pid {process.pid})")


def restart_component(name: str) -> None:
    stop_component(name)
    start_component(name)


def down() -> None:
    with _lock():
        _down_locked(quiet=False)


def _down_locked(quiet: bool) -> None:
    state = State.load()
    if state is not None:
        for name in reversed(ORDER):
            process = state.processes.get(name)
            if process is not None and process.alive():
                process.stop()
                if not quiet:
                    _say(f"stopped {name} (pid {process.pid})")
    State.path().unlink(missing_ok=True)
    # The cluster's data goes with it: the next `up` starts from an empty etcd.
    shutil.rmtree(layout.cluster_dir() / "etcd", ignore_errors=True)


def status() -> int:
    state = State.load()
    if state is None:
        print("not running")
        return 1
    for name in ORDER:
        process = state.processes.get(name)
        running = process is not None and process.alive()
        print(f"{name:<24} {'running' if running else 'stopped'}")
    print(f"kubeconfig: {layout.kubeconfig_path()}")
    return 0 if is_up() else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devcluster.cluster")
    parser.add_argument("action", choices=["up", "down", "status", "restart"])
    parser.add_argument("component", nargs="?", choices=ORDER, help="for restart")
    args = parser.parse_args(argv)
    if args.action == "restart":
        if not args.component:
            parser.error("restart needs a component")
        restart_component(args.component)
        return 0
    if args.action == "up":
        up()
        return 0
    if args.action == "down":
        down()
        return 0
    return status()


if __name__ == "__main__":
    sys.exit(main())
