"""Child processes of the platform: a free loopback port to start one on, the address a service on
this host listens on for pods to reach it, and stopping one the way a kubelet stops a container
(SIGTERM, a grace period, then SIGKILL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from typing import Any

HOST_FOR_PODS = "127.0.0.2"
"""A loopback address: local to this host like 127.0.0.1, but not rewritten to a pod's own. The
process kubelet makes `127.0.0.1` in a pod's settings mean the pod's own address, so a service
on this host that pods call (an S3 store, an upstream model server) listens here instead, an
address no pod takes for its own."""


FREE_PORT_RANGES = ((2000, 4500), (4500, 7000), (7000, 9500), (9500, 12000))
"""Where `free_port` looks: one range per test process (the first for a process pytest-xdist did
not start, then gw0, gw1, gw2), below the kernel's ephemeral range and clear of the local
clusters' ports (see devcluster.layout). A port the kernel hands out for `bind(0)` or an outgoing
connection can be taken by anyone between the moment it is chosen and the moment the child
process binds it; a port from these ranges can only be taken by this process itself, which
hands out each port once per lap of its range, from a starting point of its own (so that a
program a test starts, which looks in the same range, starts elsewhere in it)."""

_free_port_lock = threading.Lock()
_next_free_port: dict[str, int] = {}


def _free_port_range() -> tuple[int, int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker.removeprefix("gw")) + 1 if worker.startswith("gw") else 0
    return FREE_PORT_RANGES[index % len(FREE_PORT_RANGES)]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now, for a child process to bind, and
    that this function will not hand out again until it has gone round its range."""
    low, high = _free_port_range()
    with _free_port_lock:
        port = _next_free_port.get(host, low + os.getpid() * 7919 % (high - low))
        for _ in range(high - low):
            candidate, port = port, low + (port + 1 - low) % (high - low)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((host, candidate))
                except OSError:
                    continue
            _next_free_port[host] = port
            return candidate
    raise OSError(f"no free TCP port on {host} in {low}-{high - 1}")


def stop(process: subprocess.Popen[Any], grace: float = 60) -> int:
    """SIGTERM `process` (if it still runs), wait up to `grace` seconds, then SIGKILL it; the
    exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(10)
