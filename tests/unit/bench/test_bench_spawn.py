"""bench/gateways.py's spawn: a target started by a bench that is then killed (so it never stops
its targets) is sent SIGTERM by the kernel, instead of living on holding its port and core."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"

# A stand-in for a bench: it spawns a long sleep as a target, says its pid, and waits.
BENCH_SCRIPT = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import gateways
child = gateways.spawn(["sleep", "600"], Path(sys.argv[2]))
print(child.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_target_dies_with_the_bench_that_started_it(tmp_path: Path) -> None:
    bench = subprocess.Popen(
        [sys.executable, "-c", BENCH_SCRIPT, str(BENCH), str(tmp_path / "target.log")],
        stdout=subprocess.PIPE,
    )
    assert bench.stdout is not None
    target = int(bench.stdout.readline())
    try:
        assert _alive(target)
        bench.send_signal(signal.SIGKILL)
        bench.wait(10)
        deadline = time.monotonic() + 10
        while _alive(target) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(target), "the target outlived the bench that started it"
    finally:
        if _alive(target):
            os.kill(target, signal.SIGKILL)
