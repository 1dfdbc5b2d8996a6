"""The scheduler's view of a bench target (bench/schedtrace.py): a trace of switches and
wake-ups summed up per target, and a real recording from the kernel."""

# ruff: noqa: E501  (the trace's lines are the kernel's, as long as it writes them)

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import overhead_report
import schedtrace

TARGET, LOADGEN, UPSTREAM, STRANGER = 100, 200, 300, 400

# Core 1 goes idle, then the target is woken on core 0 and runs; its write wakes the load
# generator, which takes its core while core 1 is idle; the upstream takes it while core 1 runs
# a stranger; a kernel worker takes it (R+); then it sleeps.
TRACE = """\
# tracer: nop
#
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
          python-200     [001] d..2. 10.000000: sched_switch: prev_comm=python prev_pid=200 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0
          <idle>-0       [000] dNh4. 10.000004: sched_waking: comm=runestone pid=100 prio=120 target_cpu=000
          <idle>-0       [000] d..2. 10.000020: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=runestone next_pid=100
       runestone-100     [000] d.s8. 10.000050: sched_waking: comm=python pid=200 prio=120 target_cpu=000
       runestone-100     [000] d..2. 10.000052: sched_switch: prev_comm=runestone prev_pid=100 prev_prio=120 prev_state=R ==> next_comm=python next_pid=200
          python-200     [000] d..2. 10.000090: sched_switch: prev_comm=python prev_pid=200 prev_prio=120 prev_state=S ==> next_comm=runestone next_pid=100
          <idle>-0       [001] d..2. 10.000100: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=some thing next_pid=400
       runestone-100     [000] d..2. 10.000120: sched_switch: prev_comm=runestone prev_pid=100 prev_prio=120 prev_state=R ==> next_comm=python next_pid=300
          python-300     [000] d..2. 10.000150: sched_switch: prev_comm=python prev_pid=300 prev_prio=120 prev_state=S ==> next_comm=runestone next_pid=100
       runestone-100     [000] d..2. 10.000200: sched_switch: prev_comm=runestone prev_pid=100 prev_prio=120 prev_state=R+ ==> next_comm=kworker/0:1 next_pid=50
     kworker/0:1-50      [000] d..2. 10.000210: sched_switch: prev_comm=kworker/0:1 prev_pid=50 prev_prio=120 prev_state=I ==> next_comm=runestone next_pid=100
       runestone-100     [000] d..2. 10.000300: sched_switch: prev_comm=runestone prev_pid=100 prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0
"""

GROUPS = {"load generator": {LOADGEN}, "upstream": {UPSTREAM}}


def test_a_trace_is_summed_up_for_the_target() -> None:
    summary = schedtrace.summarise(TRACE.splitlines(), {TARGET}, GROUPS)
    assert summary.preempted == 3
    assert summary.preempted_another_idle == 1  # only the load generator's turn
    assert dict(summary.takers) == {"load generator": 1, "upstream": 1, schedtrace.KERNEL: 1}
    assert summary.sleeps == 1
    assert dict(summary.woke) == {"load generator": 1}  # the target's own wake-up not counted
    assert [round(wait * 1e6) for wait in summary.wake_waits] == [16]
    # It had run 32, 30 and 50 µs when its core was taken.
    assert [round(ran * 1e6) for ran in summary.runs_preempted] == [32, 30, 50]
    assert round(summary.seconds * 1e6) == 300


def test_a_core_not_yet_seen_is_not_counted_as_idle() -> None:
    # Without core 1's first line its state is unknown when the load generator takes core 0.
    summary = schedtrace.summarise(TRACE.splitlines()[4:], {TARGET}, GROUPS)
    assert summary.preempted == 3
    assert summary.preempted_another_idle == 0


def test_summaries_of_rounds_add_up_and_are_reported_per_answer() -> None:
    total = schedtrace.summarise(TRACE.splitlines(), {TARGET}, GROUPS)
    total.add(schedtrace.summarise(TRACE.splitlines(), {TARGET}, GROUPS))
    assert total.preempted == 6
    assert total.takers["upstream"] == 2
    assert len(total.wake_waits) == 2
    lines = schedtrace.report([("chat runestone whole c=16", total, 4)])
    row = lines[-1].split()
    # 2 sleeps and 6 preemptions over 4 answers; 2 of 6 with another core idle (33 %); a
    # woken thread waited 16 µs; it had run 32 µs at the median when preempted; the load
    # generator woken twice, the upstream never; a third of the core taken by each of the three.
    assert row[4:13] == ["0.50", "1.50", "33%", "16.0", "16.0", "32.0", "0.50", "0.00", "load"]
    assert "upstream 33%" in lines[-1]
    assert "kernel 33%" in lines[-1]
    total.lost = 7
    lines = schedtrace.report([("chat runestone whole c=16", total, 4)])
    assert lines[-1] == "  7 events lost in chat runestone whole c=16: its counts are short"


def test_a_cell_carries_its_rounds_summary() -> None:
    cell = overhead_report.Cell("runestone", stream=False, concurrency=16)
    assert cell.sched is None  # only with --sched-trace


def test_the_kernel_records_two_busy_processes_taking_turns_on_one_core() -> None:
    core = {sorted(os.sched_getaffinity(0))[-1]}
    busy = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass"
    with schedtrace.Recording(f"runestone-test-{os.getpid()}") as recording:
        pinned = [
            subprocess.Popen(
                [sys.executable, "-c", busy], preexec_fn=lambda: os.sched_setaffinity(0, core)
            )
            for _ in range(2)
        ]
        time.sleep(0.3)  # both started and spinning
        one, other = (schedtrace.threads(process.pid) for process in pinned)
        recording.start()
        time.sleep(0.8)
        lines = recording.stop()
        for process in pinned:
            process.wait(30)
    assert not recording.path.exists()  # the instance is removed
    assert recording.lost == 0
    summary = schedtrace.summarise(lines, one, {"the other": other})
    # Two processes that never block on one core take turns by preemption (on a busy machine
    # others may take the core too, and a page fault may put one to sleep for a moment).
    assert summary.preempted > 0
    assert summary.takers["the other"] > 0
    assert summary.sleeps < summary.preempted
    assert summary.seconds > 0.5


def test_the_bench_refuses_to_trace_without_root(refusal: Callable[..., str]) -> None:
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    said = refusal(["--sched-trace"], prefix=nobody)
    assert "--sched-trace reads the kernel's trace (tracefs): run it as root" in said
