"""Child processes of the platform: a free loopback port to start one on, and stopping one the way
a kubelet stops a container (SIGTERM, a grace period, then SIGKILL)."""

from __future__ import annotations

import signal
import socket
import subprocess
from typing import Any


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
