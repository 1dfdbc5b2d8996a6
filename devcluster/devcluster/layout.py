"""Where a local cluster lives: its folder, its control plane's ports, its pod and Service
networks and its Weaviate members' host ports, chosen by environment variables so that several
clusters (one per test process) run side by side without sharing any of them."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PORT_BASE_ENV = "RUNESTONE_CLUSTER_PORT_BASE"
DIR_ENV = "RUNESTONE_CLUSTER_DIR"
HOST_PORTS_ENV = "RUNESTONE_CLUSTER_HOST_PORTS"
"""The first of the host ports the cluster's Weaviate members bind on every interface (4 per
address of the process kubelet's pool, see devcluster.weaviate.host_ports); two clusters side by
side need ranges apart."""
WORKER_HOST_PORTS = (28000, 12000, 16000)
"""The host-port ranges of up to three local clusters side by side, one per test process (see
`worker_environment`): clear of each other, of the control planes' ports and of the ephemeral
range (32768 and up)."""


@dataclass(frozen=True)
class Ports:
    etcd_client: int = 23790
    etcd_peer: int = 23800
    apiserver: int = 26443
    controller_manager: int = 26257
    scheduler: int = 26259
    kwok: int = 26260
    pod_host_ports: int = WORKER_HOST_PORTS[0]

    @classmethod
    def from_env(cls) -> Ports:
        base = int(os.environ.get(PORT_BASE_ENV, "0") or 0)
        host_ports = int(os.environ.get(HOST_PORTS_ENV, "0") or 0) or WORKER_HOST_PORTS[0]
        if not base:
            return cls(pod_host_ports=host_ports)
        return cls(base, base + 1, base + 2, base + 3, base + 4, base + 5, host_ports)


def worker_environment(worker: int, environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The settings that give the `worker`-th of several test processes (pytest-xdist's gw0, gw1,
    ...) a local cluster of its own: worker 0 keeps the cluster `environ` names (by default the
    one `make cluster-up` starts); worker n gets a folder beside it, the port base 100·n above
    (or 27000 + 100·(n-1) when `environ` sets none) and host ports of its own."""
    if worker == 0:
        return {}
    if worker >= len(WORKER_HOST_PORTS):
        raise ValueError(
            f"at most {len(WORKER_HOST_PORTS)} test processes can each run a local cluster"
        )
    folder = environ.get(DIR_ENV) or str(REPO / ".cluster")
    base = int(environ.get(PORT_BASE_ENV, "0") or 0)
    return {
        DIR_ENV: f"{folder}-{worker}",
        PORT_BASE_ENV: str(base + 100 * worker if base else 27000 + 100 * (worker - 1)),
        HOST_PORTS_ENV: str(WORKER_HOST_PORTS[worker]),
    }


def _block(ports: Ports) -> int:
    """Several local clusters may run side by side (one per port base); each takes a /20 of its
    own in the networks below, chosen by its port base, so their pods never share an address."""
    return (ports.etcd_client // 100) % 16 * 16


def pod_cidr(ports: Ports) -> str:
    """The range kwok gives a pod an address from when it starts the pod. Pods whose containers
    the process kubelet runs get an address of `process_network` instead (see
    devcluster.kubelet.network)."""
    return f"10.244.{_block(ports)}.1/20"


def process_network(ports: Ports) -> ipaddress.IPv4Network:
    """The addresses the process kubelet gives the pods it runs, local to this host."""
    return ipaddress.IPv4Network(f"10.245.{_block(ports)}.0/20")


def service_network(ports: Ports) -> ipaddress.IPv4Network:
    """The Services' ClusterIPs; the process kubelet serves them (devcluster.kubelet.services)."""
    return ipaddress.IPv4Network(f"10.96.{_block(ports)}.0/20")


def networks(ports: Ports) -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Network]:
    """kwok's range and the process network: both put on the loopback interface by the process
    kubelet, so that connecting to any pod address fails at once when nothing listens there."""
    return ipaddress.IPv4Network(pod_cidr(ports), strict=False), process_network(ports)


def cluster_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or REPO / ".cluster")


def kubeconfig_path() -> Path:
    return cluster_dir() / "kubeconfig"


def audit_log(root: Path | None = None) -> Path:
    """The API server's audit log (see `AUDIT_POLICY`)."""
    return (root or cluster_dir()) / "logs" / "audit.log"
