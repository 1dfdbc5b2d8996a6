"""Child processes of the platform: a free loopback port to start one on, the address a service on
this host listens on for pods to reach it, and stopping one the way a kubelet stops a container
(SIGTERM, a grace period, then SIGKILL)."""

from __future__ import annotations

import signal
import socket
import subprocess
from typing import Any

HOST_FOR_PODS = "127.0.0.2"
"""A loopback address: local to this host like 127.0.0.1, but not rewritten to a pod's own. The
process kubelet makes `127.0.0.1` in a pod's settings mean the pod's own address, so a service
on this host that pods call (an S3 store, an upstream model server) listens here instead, an
address no pod takes for its own."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


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
