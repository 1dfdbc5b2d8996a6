"""Where the bench's processes run: `--pin` gives the targets the last core (their threads
included) and keeps the load generator and the upstream off it; and how often a target lost its
core is counted from /proc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import gateway_overhead
import gateways
import loadgen
import overhead_report
import procstats

BENCH = Path(gateway_overhead.__file__).resolve().parent

PINNED = """
import json, os, sys, tempfile
from pathlib import Path
import gateways

harness, targets = gateways.pin()
report = '''
import json, os, threading
seen = {}
thread = threading.Thread(target=lambda: seen.update(thread=sorted(os.sched_getaffinity(0))))
thread.start(); thread.join()
print(json.dumps({"process": sorted(os.sched_getaffinity(0)), **seen}))
'''
out = Path(tempfile.mkdtemp())
target = gateways.spawn([sys.executable, "-c", report], out / "target.log")
helper = gateways.spawn([sys.executable, "-c", report], out / "helper.log", harness=True)
target.wait(30); helper.wait(30)
print(json.dumps({
    "harness": sorted(harness),
    "targets": sorted(targets),
    "bench": sorted(os.sched_getaffinity(0)),
    "target": json.loads((out / "target.log").read_text()),
    "helper": json.loads((out / "helper.log").read_text()),
}))
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two cores")
def test_pinned_targets_and_their_threads_run_on_the_last_core_and_the_rest_off_it() -> None:
    # In a process of its own: pinning moves the process that calls it.
    done = subprocess.run(
        [sys.executable, "-c", PINNED],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    placed = json.loads(done.stdout)
    cores = sorted(os.sched_getaffinity(0))
    assert placed["targets"] == cores[-1:]
    assert placed["harness"] == cores[:-1]
    assert placed["bench"] == placed["harness"]
    assert placed["target"] == {"process": cores[-1:], "thread": cores[-1:]}
    assert placed["helper"] == {"process": cores[:-1], "thread": cores[:-1]}


def test_unpinned_targets_run_anywhere(tmp_path: Path) -> None:
    assert gateways._target_cores is None  # nothing in this process pinned
    target = gateways.spawn(
        [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
        tmp_path / "target.log",
    )
    target.wait(30)
    assert json.loads((tmp_path / "target.log").read_text()) == sorted(os.sched_getaffinity(0))


def test_a_process_that_shares_its_one_core_with_a_busy_one_is_counted_as_preempted() -> None:
    core = {sorted(os.sched_getaffinity(0))[-1]}
    busy = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass"
    pinned = [
        subprocess.Popen(
            [sys.executable, "-c", busy], preexec_fn=lambda: os.sched_setaffinity(0, core)
        )
        for _ in range(2)
    ]
    time.sleep(1.0)
    counts = [procstats.preemptions(process.pid) for process in pinned]
    for process in pinned:
        process.wait(30)
    # Two processes that never block on one core take turns only by preemption.
    assert min(counts) > 0


def test_a_sleeping_process_is_not_preempted() -> None:
    sleeper = subprocess.Popen(["sleep", "3"])
    try:
        # Counted over a window in which it only sleeps: starting up on a busy machine, it may
        # well have been preempted before it fell asleep.
        time.sleep(0.5)
        before = procstats.preemptions(sleeper.pid)
        time.sleep(1.0)
        assert procstats.preemptions(sleeper.pid) == before
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_report_prints_preemptions_per_answer() -> None:
    cell = overhead_report.Cell("runestone", stream=False, concurrency=16)
    samples = loadgen.Samples(latencies=[0.006] * 400, elapsed=1.0)
    cell.add(samples, cpu=0.08, preempted=100)
    cell.add(samples, cpu=0.08, preempted=60)
    assert cell.preempted == 160
    table = overhead_report.report([cell], {}, {"runestone": 1}, [])
    header = next(line for line in table.splitlines() if line.startswith("endpoint"))
    row = next(line for line in table.splitlines() if line.startswith("chat"))
    assert header.split()[-1] == "preempt/req"
    assert row.split()[-2:] == ["0.200", "0.20"]  # 0.16 s of CPU and 160 over 800 answers


@pytest.mark.parametrize(
    "arguments",
    [["--workers", "2", "--targets", "direct,runestone"], ["--targets", "direct,tensorzero2"]],
)
def test_pinning_refuses_targets_that_need_more_than_one_core(
    arguments: list[str], refusal: Callable[..., str]
) -> None:
    assert "--pin gives the targets one core" in refusal(["--pin", *arguments])
