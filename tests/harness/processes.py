"""Stopping a child process the way a kubelet stops a container: SIGTERM, a grace period, then
SIGKILL."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


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
