"""What the kernel's scheduler did to a bench target while it was measured, read from the
kernel's own trace of it: how often the target's threads went to sleep, how often they lost
their core while they still had work, whether another core was idle at that moment, who took
the core, and how long a woken thread waited before it ran.

The `sched_switch` and `sched_waking` events are recorded in a tracing instance of the bench's
own (tracefs, mounted if it is not), so nothing else that traces on the machine is disturbed.
Needs root. bench/gateway_overhead.py records one for every round it measures with
`--sched-trace` and prints the summary under its table."""

from __future__ import annotations

import collections
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import procstats

TRACEFS = Path("/sys/kernel/tracing")
EVENTS = ("sched_switch", "sched_waking")
"""`sched_waking` is traced where the waker runs (`sched_wakeup` may be traced on the woken
thread's core, in whatever ran there), so it tells who woke whom."""
BUFFER_KB = 65536
"""Per core: some 100 bytes an event, a few events per request, for rounds of seconds."""

LOAD_GENERATOR = "load generator"
UPSTREAM = "upstream"
KERNEL = "kernel"
OTHER = "other"
ITSELF = "the target itself"

_PREFIX = r"\s*(?P<task>.+?)-(?P<tid>\d+)\s+\[(?P<cpu>\d+)\]\s+\S+\s+(?P<time>[\d.]+): "
_SWITCH = re.compile(
    _PREFIX + r"sched_switch: prev_comm=.* prev_pid=(?P<prev>\d+) prev_prio=\d+ "
    r"prev_state=(?P<state>\S+) ==> next_comm=(?P<next_comm>.*) next_pid=(?P<next>\d+)"
)
_WAKING = re.compile(
    _PREFIX + r"sched_waking: comm=(?P<comm>.*) pid=(?P<pid>\d+) prio=\d+ target_cpu=\d+"
)
_KERNEL_THREADS = ("ksoftirqd/", "kworker/", "rcu_", "migration/", "kcompactd", "kswapd")


@dataclass
class Summary:
    """One target's scheduling over the windows recorded (added up with `add`)."""

    seconds: float = 0.0
    sleeps: int = 0
    """The target's threads going to sleep (waiting for I/O or a timer)."""
    preempted: int = 0
    """Switched out while still runnable: the core taken from it."""
    preempted_another_idle: int = 0
    """Of those, while another core of the machine was idle."""
    takers: collections.Counter[str] = field(default_factory=collections.Counter)
    """Who ran next on the core taken, by group."""
    wake_waits: list[float] = field(default_factory=list)
    """Seconds from a target thread's wake-up to it running."""
    runs_preempted: list[float] = field(default_factory=list)
    """Seconds a target thread had run, since it last got a core, when the core was taken."""
    woke: collections.Counter[str] = field(default_factory=collections.Counter)
    """Wake-ups the target's threads gave, by the group of the thread woken."""
    lost: int = 0
    """Events the kernel dropped, its buffer full: the counts above are then short."""

    def add(self, other: Summary) -> None:
        self.seconds += other.seconds
        self.sleeps += other.sleeps
        self.preempted += other.preempted
        self.preempted_another_idle += other.preempted_another_idle
        self.takers.update(other.takers)
        self.wake_waits += other.wake_waits
        self.runs_preempted += other.runs_preempted
        self.woke.update(other.woke)
        self.lost += other.lost


def summarise(lines: Iterable[str], target: set[int], groups: Mapping[str, set[int]]) -> Summary:
    """The target's scheduling in a trace: `target` are its thread ids; `groups` name the threads
    of the rest (the load generator, the upstream) to say who took its core. A core's state
    before its first switch in the trace is unknown: a preemption then is not counted as one
    with another core idle."""
    summary = Summary()
    running: dict[int, int] = {}  # core -> thread id running there (0: idle)
    woken: dict[int, float] = {}  # target thread -> when it was woken
    since: dict[int, float] = {}  # target thread -> when it last got a core
    first = last = None
    for line in lines:
        switch = _SWITCH.match(line)
        if switch is not None:
            now = float(switch["time"])
            first = now if first is None else first
            last = now
            core, previous, following = int(switch["cpu"]), int(switch["prev"]), int(switch["next"])
            if previous in target:
                began = since.pop(previous, None)
                if switch["state"].startswith("R"):  # R, or R+ (preempted)
                    summary.preempted += 1
                    if began is not None:
                        summary.runs_preempted.append(now - began)
                    others = [tid for cpu, tid in running.items() if cpu != core]
                    if 0 in others:
                        summary.preempted_another_idle += 1
                    summary.takers[_group(following, switch["next_comm"], target, groups)] += 1
                else:
                    summary.sleeps += 1
            if following in target:
                since[following] = now
                if following in woken:
                    summary.wake_waits.append(now - woken.pop(following))
            running[core] = following
            continue
        waking = _WAKING.match(line)
        if waking is not None:
            now = float(waking["time"])
            first = now if first is None else first
            last = now
            wakee = int(waking["pid"])
            if wakee in target:
                woken[wakee] = now
            elif int(waking["tid"]) in target:
                summary.woke[_group(wakee, waking["comm"], target, groups)] += 1
    summary.seconds = (last - first) if first is not None and last is not None else 0.0
    return summary


def _group(tid: int, comm: str, target: set[int], groups: Mapping[str, set[int]]) -> str:
    if tid in target:
        return ITSELF
    for name, members in groups.items():
        if tid in members:
            return name
    if tid == 0 or comm.startswith(_KERNEL_THREADS):
        return KERNEL
    return OTHER


def threads(pid: int) -> set[int]:
    """The thread ids of `pid` and of every process under it."""
    found: set[int] = set()
    for process in procstats.tree(pid):
        try:
            found.update(int(task) for task in os.listdir(f"/proc/{process}/task"))
        except OSError:  # gone
            continue
    return found


@dataclass
class Tracing:
    """A recording for a bench's rounds, and the threads of the bench's own parts."""

    recording: Recording
    upstream: int
    """The upstream's process id (the load generator is this process)."""

    def groups(self) -> dict[str, set[int]]:
        own = {int(task) for task in os.listdir("/proc/self/task")}  # not its children
        return {LOAD_GENERATOR: own, UPSTREAM: threads(self.upstream)}


class Recording:
    """Records the scheduler's events from `start` to `stop` in a tracing instance named
    `name` (by default after this process), removed on `close`."""

    def __init__(self, name: str | None = None) -> None:
        self.lost = 0
        """Events dropped in the last recording (the buffer overran)."""
        if not (TRACEFS / "instances").is_dir():
            subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], check=True)
        self.path = TRACEFS / "instances" / (name or f"runestone-bench-{os.getpid()}")
        self.path.mkdir(exist_ok=True)
        (self.path / "tracing_on").write_text("0")
        (self.path / "buffer_size_kb").write_text(str(BUFFER_KB))
        for event in EVENTS:
            (self.path / "events" / "sched" / event / "enable").write_text("1")

    def start(self) -> None:
        (self.path / "trace").write_text("")
        (self.path / "tracing_on").write_text("1")

    def stop(self) -> list[str]:
        (self.path / "tracing_on").write_text("0")
        self.lost = sum(
            int(line.split()[1])
            for stats in self.path.glob("per_cpu/cpu*/stats")
            for line in stats.read_text().splitlines()
            if line.startswith("overrun:")
        )
        return (self.path / "trace").read_text().splitlines()

    def close(self) -> None:
        (self.path / "tracing_on").write_text("0")
        self.path.rmdir()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def report(cells: Iterable[tuple[str, Summary, int]]) -> list[str]:
    """A line per cell: its label, what its rounds' traces showed, and the answers it counted."""
    lines = [
        "the scheduler, from the kernel's trace of each measured round, per answer: the target's",
        "threads going to sleep, and losing their core while they still had work (preempted);",
        "the share of those with another core idle, who took the core, how long a woken",
        "thread waited to run and how long a thread had run when its core was taken",
        "(microseconds), and how often it woke the load generator (lg) and the upstream (up)",
        "per answer",
        "",
        f"{'cell':<40} {'sleeps':>7} {'preempt':>7} {'idle':>5} {'wait p50':>8} {'p99':>6} "
        f"{'ran p50':>7} {'woke lg':>7} {'up':>5}  core taken by",
    ]
    for label, summary, answers in cells:
        count = answers or 1
        waits = [wait * 1e6 for wait in summary.wake_waits]
        idle = summary.preempted_another_idle / summary.preempted if summary.preempted else 0.0
        takers = ", ".join(
            f"{name} {share / summary.preempted:.0%}"
            for name, share in summary.takers.most_common(3)
        )
        lines.append(
            f"{label:<40} {summary.sleeps / count:7.2f} {summary.preempted / count:7.2f} "
            f"{idle:5.0%} {procstats.percentile(waits, 50):8.1f} "
            f"{procstats.percentile(waits, 99):6.1f} "
            f"{procstats.percentile([ran * 1e6 for ran in summary.runs_preempted], 50):7.1f} "
            f"{summary.woke[LOAD_GENERATOR] / count:7.2f} {summary.woke[UPSTREAM] / count:5.2f}  "
            f"{takers or '-'}"
        )
        if summary.lost:
            lines.append(f"  {summary.lost} events lost in {label}: its counts are short")
    return lines
