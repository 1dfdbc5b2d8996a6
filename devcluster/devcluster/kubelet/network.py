"""Pod addresses: each pod whose containers the process kubelet runs gets an address of its own.

All pods share this host's network namespace, so a pod's address is an address of the host: the
kubelet puts its cluster's pod network on the loopback interface (a prefix on `lo` makes every
address in it local, as 127.0.0.0/8 is), and each pod's processes bind their pod's address.
These are ordinary unicast addresses, so the API server takes them in EndpointSlices (it refuses
loopback ones), and the pod's `status.podIP` is the address its processes listen on: every
consumer (the operator, a sidecar, a Service's endpoints, a test) uses it as on a real cluster.

Pods created in a namespace the kubelet runs are marked at admission (pod-address-policy.yaml);
kwok gives other pods an address from its own range when it starts them, but waits for the
kubelet to give a marked pod its address (kwok-stages.yaml), so a pod's podIP is set once, to the
address its processes use.

kwok's own pool hands a deleted pod's address to the next pod at once, while a pod deleted with
grace period 0 may still be stopping (a Weaviate member's preStop sleep): a replacement on the
same address would fail to listen and, worse, be answered by its predecessor. Here an address is
held until every process of the pod that had it has exited, and addresses are handed out in
turn, so a replacement always gets a fresh one.

The pool is the first `POOL_SIZE` addresses of the network, so that anything derived from the
address modulo `POOL_SIZE` (the Weaviate runner's per-member host ports) differs between any two
live pods.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import subprocess
import threading
from collections.abc import Iterable

POOL_SIZE = 1000

log = logging.getLogger("devcluster.kubelet")


class Exhausted(RuntimeError):
    """Every address of the pool is held by a live or stopping pod."""


class Addresses:
    """The process network's addresses: which pod (by uid) holds which, and which one a new pod
    gets."""

    def __init__(self, network: ipaddress.IPv4Network, size: int = POOL_SIZE) -> None:
        if network.num_addresses < size + 2:
            raise ValueError(f"{network} has fewer than {size} host addresses")
        self.network = network
        self._pool = [str(network.network_address + offset) for offset in range(1, size + 1)]
        self._held: dict[str, str] = {}  # address -> the uid of the pod holding it
        self._next = 0
        self._lock = threading.Lock()

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address in self._pool

    def take(self, owner: str, wanted: str | None = None) -> str:
        """The address pod `owner` holds; otherwise hold `wanted` for it when that is a free pool
        address (a pod this kubelet addressed before it restarted keeps its address), or else
        the next free address in turn."""
        with self._lock:
            for address, holder in self._held.items():
                if holder == owner:
                    return address
            if wanted is not None and wanted in self._pool and wanted not in self._held:
                self._held[wanted] = owner
                return wanted
            for step in range(len(self._pool)):
                address = self._pool[(self._next + step) % len(self._pool)]
                if address not in self._held:
                    self._next = (self._next + step + 1) % len(self._pool)
                    self._held[address] = owner
                    return address
        raise Exhausted(f"all {len(self._pool)} addresses of {self.network} are held")

    def release(self, owner: str) -> None:
        """Pod `owner` has no process left (or never got one): its address may be handed out
        again."""
        with self._lock:
            self._held = {a: holder for a, holder in self._held.items() if holder != owner}

    def owners(self) -> set[str]:
        with self._lock:
            return set(self._held.values())


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def add_to_loopback(networks: Iterable[ipaddress.IPv4Network]) -> None:
    """Make every address of `networks` local to this host (idempotent; needs CAP_NET_ADMIN)."""
    for network in networks:
        prefix = f"{network.network_address + 1}/{network.prefixlen}"
        done = _ip("-4", "addr", "replace", prefix, "dev", "lo")
        if done.returncode != 0:
            raise RuntimeError(f"cannot add {network} to the loopback interface: {done.stderr}")
        log.info("network %s is local (on lo)", network)


def remove_from_loopback(networks: Iterable[ipaddress.IPv4Network]) -> None:
    for network in networks:
        prefix = f"{network.network_address + 1}/{network.prefixlen}"
        with contextlib.suppress(OSError):
            _ip("-4", "addr", "del", prefix, "dev", "lo")
