"""What bench/gateway_overhead.py prints: its cells (one target at one endpoint, mode and
concurrency, with the samples and CPU of every round), the table of added latency, the
comparisons under it and what each target does in the run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import loadgen
import peers
import procstats
import schedtrace

ADDED_P99_BUDGET = 0.005  # throughput is compared at cells whose added p99 stays under this
AT_RATE = "@rate"
"""A target measured at `--at-rate-of`'s request rate (paced) rather than as fast as it goes."""
_OURS = ("direct", "runestone", "floor", "before")
"""Target families that are Runestone or a floor, never a peer to compare with."""


SEARCH = "search"
"""The vector-store search: its requests name a store ingested at start (`search_endpoint`)."""
SEARCH_NOTE = [
    "search is measured whole only (its answer is one JSON page); its direct is the gateway's",
    "GraphQL query posted to the Weaviate node, the query's vector in hand (module docstring)",
]


@dataclass
class Cell:
    target: str
    stream: bool
    concurrency: int
    endpoint: str = "chat"
    samples: loadgen.Samples = field(default_factory=loadgen.Samples)
    cpu: float = 0.0  # CPU seconds the target's processes used while measured
    preempted: int = 0  # the target's involuntary context switches while measured
    sched: schedtrace.Summary | None = None  # with --sched-trace: the kernel's view of it

    def add(self, samples: loadgen.Samples, cpu: float, preempted: int = 0) -> None:
        self.samples.latencies += samples.latencies
        self.samples.first_bytes += samples.first_bytes
        self.samples.errors += samples.errors
        self.samples.elapsed += samples.elapsed
        self.cpu += cpu
        self.preempted += preempted

    def p(self, q: float) -> float:
        return procstats.percentile(self.samples.latencies, q)

    def ttft(self, q: float) -> float:
        return procstats.percentile(self.samples.first_bytes, q)

    def lead(self, q: float) -> float:
        """The cell's first figure: time to first token for streams, else the whole answer."""
        return self.ttft(q) if self.stream else self.p(q)


@dataclass
class Memory:
    started: float = math.nan
    before: float = math.nan
    after: float = math.nan
    soak_requests: int = 0
    soak_errors: int = 0


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1000:7.2f}"


def report(
    cells: list[Cell],
    memories: dict[str, Memory],
    workers: dict[str, int],
    translated: Sequence[str],
) -> str:
    """The table; `translated` are the endpoints compared with chat completions under it."""
    direct = {(c.endpoint, c.stream, c.concurrency): c for c in cells if c.target == "direct"}
    paced = {
        (c.endpoint, c.stream, c.concurrency): c for c in cells if c.target == "direct" + AT_RATE
    }
    lines = [
        "latency in ms; 'added' is the target's percentile minus direct's in the same cell (for",
        "an endpoint translated to chat, direct is the chat request the upstream gets);",
        "for streams the first pair is time to first token (first event), then the whole answer;",
        "preempt/req: the target's involuntary context switches per answer (a core taken from it",
        "while it still had work, mostly by a process its own write woke)",
        *(SEARCH_NOTE if any(cell.endpoint == SEARCH for cell in cells) else []),
        "",
        f"{'endpoint':<16} {'target':<15} {'mode':<6} {'c':>3} {'req/s':>8} {'err':>5} "
        f"{'p50':>7} {'p99':>7} {'+p50':>7} {'+p99':>7} {'end p50':>7} {'+end p99':>8} "
        f"{'cpu ms/req':>10} {'preempt/req':>11}",
    ]
    for cell in cells:
        floors = paced if cell.target.endswith(AT_RATE) else direct
        floor = floors.get((cell.endpoint, cell.stream, cell.concurrency))
        added50 = cell.lead(50) - floor.lead(50) if floor else math.nan
        added99 = cell.lead(99) - floor.lead(99) if floor else math.nan
        end99 = cell.p(99) - floor.p(99) if floor else math.nan
        completed = cell.samples.completed
        per_request = cell.cpu / completed * 1000 if completed else 0
        preempted = cell.preempted / completed if completed else 0
        lines.append(
            f"{cell.endpoint:<16} {cell.target:<15} {'stream' if cell.stream else 'whole':<6} "
            f"{cell.concurrency:>3} "
            f"{cell.samples.throughput:8.0f} {cell.samples.errors:>5} {_ms(cell.lead(50))} "
            f"{_ms(cell.lead(99))} {_ms(added50)} {_ms(added99)} {_ms(cell.p(50))} "
            f"{_ms(end99):>8} {per_request:10.3f} {preempted:11.2f}"
        )
    lines += ["", "resident memory (MB, process tree), before and after the soak requests:"]
    for name, memory in memories.items():
        growth = (memory.after - memory.before) / memory.before * 100
        lines.append(
            f"  {name:<10} after start {memory.started:6.1f}  after warm-up {memory.before:6.1f}"
            f"  after {memory.soak_requests} requests {memory.after:6.1f}  growth {growth:+.1f}%"
            f"  soak errors {memory.soak_errors}"
        )
    chat = [cell for cell in cells if cell.endpoint == "chat"]
    chat_direct = {(s, c): cell for (e, s, c), cell in direct.items() if e == "chat"}
    lines += [
        "",
        *targets_summary(chat, chat_direct, workers),
        *standing(chat, chat_direct),
        *endpoints_summary(cells, translated),
    ]
    lines += at_rate_summary(chat, paced)
    return "\n".join(lines)


def at_rate_summary(cells: list[Cell], paced: dict[tuple[str, bool, int], Cell]) -> list[str]:
    """Runestone and the peer at the same load: the peer as it ran, Runestone and the upstream
    paced to the peer's request rate; each added latency over the paced upstream."""
    ours = {(c.stream, c.concurrency): c for c in cells if c.target == "runestone" + AT_RATE}
    lines = []
    for cell in cells:
        key = (cell.stream, cell.concurrency)
        floor = paced.get((cell.endpoint, *key))
        if cell.target.endswith(AT_RATE) or peers.family(cell.target) in _OURS:
            continue
        if floor is None or key not in ours:
            continue
        parts = []
        for name, measured in ((cell.target, cell), ("runestone", ours[key])):
            added = [(measured.lead(q) - floor.lead(q)) * 1000 for q in (50, 99)]
            parts.append(f"{name} {added[0]:.2f} / {added[1]:.2f} ms")
        what = "first token" if cell.stream else "whole"
        rate = ours[key].samples.throughput
        lines.append(
            f"  {what:<11} c={cell.concurrency:<3} at {rate:6.0f} req/s, added p50 / p99: "
            + "; ".join(parts)
        )
    title = "at the peer's request rate (the upstream and Runestone paced to it):"
    return ["", title, *lines] if lines else []


def targets_summary(
    cells: list[Cell], direct: dict[tuple[bool, int], Cell], workers: dict[str, int]
) -> list[str]:
    """The issue's comparisons, where both gateways were measured."""
    by = {(c.target, c.stream, c.concurrency): c for c in cells}
    lines = ["comparisons (whole answers):"]
    for name, count in workers.items():
        best, peak = 0.0, 0.0
        for cell in cells:
            floor = direct.get((cell.stream, cell.concurrency))
            if cell.target != name or cell.stream or floor is None or cell.samples.errors:
                continue
            per_worker = cell.samples.throughput / count
            peak = max(peak, per_worker)
            if cell.p(99) - floor.p(99) <= ADDED_P99_BUDGET:
                best = max(best, per_worker)
        lines.append(
            f"  {name:<11} req/s per worker or thread ({count}): "
            f"best with added p99 <= 5 ms {best:.0f}, "
            f"best at any latency {peak:.0f}"
        )
    for stream, what in ((False, "whole answers"), (True, "time to first token")):
        single, floor1 = by.get(("runestone", stream, 1)), direct.get((stream, 1))
        if single and floor1:
            added = single.lead(50) - floor1.lead(50)
            lines.append(f"  added p50 at c=1 ({what}): runestone {added * 1000:.2f} ms")
    ours, floor16 = by.get(("runestone", False, 16)), direct.get((False, 16))
    for name in workers:
        theirs = by.get((name, False, 16))
        if name == "runestone" or not (ours and theirs and floor16):
            continue
        added_ours = ours.p(99) - floor16.p(99)
        added_theirs = theirs.p(99) - floor16.p(99)
        lines.append(
            f"  added p99 at c=16: runestone {added_ours * 1000:.2f} ms, {name} "
            f"{added_theirs * 1000:.2f} ms (ratio 1/{added_theirs / max(added_ours, 1e-6):.1f})"
        )
    return lines


FLOOR = "floor-raw"
"""The bare hop Runestone's added latency at c=1 is measured against."""
FLOOR_MARGIN = 0.0001
"""How far above the bare hop's added p50 at c=1 Runestone's may be (seconds): the aim."""


def standing(cells: list[Cell], direct: dict[tuple[bool, int], Cell]) -> list[str]:
    """Where Runestone stands, closed loop: against each peer in every cell both were measured
    in (added p50 and p99 each ahead, level or behind; the first token for streams), with the
    cores Runestone kept busy in that cell and, when the bare hop was measured in it too, where
    the bare hop stands against the same peer (a cell in which even the hop is behind is not
    one a Python gateway's code can win); and at c=1 against the bare hop."""
    by = {(c.target, c.stream, c.concurrency): c for c in cells if not c.samples.errors}
    peers_in_run = sorted(
        {
            c.target
            for c in cells
            if peers.family(c.target) not in _OURS and not c.target.endswith(AT_RATE)
        }
    )
    lines = []
    for peer in peers_in_run:
        for (target, stream, concurrency), theirs in by.items():
            ours = by.get(("runestone", stream, concurrency))
            if target != peer or ours is None or (stream, concurrency) not in direct:
                continue
            what = "first token" if stream else "whole"
            line = f"  against {peer:<11} {what:<11} c={concurrency:<3} " + _against(ours, theirs)
            if ours.samples.elapsed and ours.cpu:
                line += f"; runestone kept {ours.cpu / ours.samples.elapsed:.2f} cores busy"
            bare = by.get((FLOOR, stream, concurrency))
            if bare is not None:
                line += f"; {FLOOR}: {_against(bare, theirs)}"
            lines.append(line)
    for stream, what in ((False, "whole"), (True, "first token")):
        ours, bare, floor = (
            by.get(("runestone", stream, 1)),
            by.get((FLOOR, stream, 1)),
            direct.get((stream, 1)),
        )
        if ours and bare and floor:
            above = ours.lead(50) - bare.lead(50)
            lines.append(
                f"  at c=1 {what}: added p50 {above * 1000:.2f} ms above {FLOOR}'s "
                f"({'within' if above <= FLOOR_MARGIN else 'beyond'} 0.10 ms)"
            )
    title = "where runestone stands (closed loop; added latency, ahead or behind by ms):"
    return ["", title, *lines] if lines else []


def _against(ours: Cell, theirs: Cell) -> str:
    """Added p50 and p99 of `ours` against `theirs`: both are over the same direct cell, so the
    difference is that of the two targets' own percentiles."""
    return ", ".join(f"p{q} {_verdict(ours.lead(q) - theirs.lead(q))}" for q in (50, 99))


def _verdict(gap: float) -> str:
    """`gap` is Runestone's added latency minus the peer's, in seconds."""
    if abs(gap) < 0.000005:
        return "level"
    return f"{'behind' if gap > 0 else 'ahead'} {abs(gap) * 1000:.2f}"


def endpoints_summary(cells: list[Cell], translated: Sequence[str]) -> list[str]:
    """Each endpoint through Runestone against chat completions through Runestone, on the same
    upstream: added p50 at c=1 (whole, and time to first token) and throughput at c=16."""
    by = {(c.endpoint, c.stream, c.concurrency): c for c in cells if c.target == "runestone"}
    lines = []
    for endpoint in translated:
        if endpoint == "chat":
            continue
        parts = []
        for stream, what in ((False, "whole"), (True, "first token")):
            ours, chat = by.get((endpoint, stream, 1)), by.get(("chat", stream, 1))
            if ours and chat:
                added = ours.lead(50) - chat.lead(50)
                parts.append(f"{what} p50 at c=1 {added * 1000:+.3f} ms")
        ours16, chat16 = by.get((endpoint, False, 16)), by.get(("chat", False, 16))
        if ours16 and chat16 and chat16.samples.throughput:
            ratio = ours16.samples.throughput / chat16.samples.throughput
            parts.append(f"req/s at c=16 {ratio:.2f} x chat's")
        if parts:
            lines.append(f"  {endpoint:<16} against chat completions: {'; '.join(parts)}")
    return ["", "endpoints through runestone:", *lines] if lines else []


def run_statement(
    targets: list[str], endpoints: list[str], at_rate_of: str | None = None
) -> list[str]:
    """What each target does per request in the run, and the cells it is not measured on;
    with `at_rate_of`, the endpoints whose cells are not paced to that target's rate."""
    lines = ["what each target does in this run:"]
    for name in targets:
        lines.append(f"  {name:<11} {peers.statement(name)}")
        for endpoint in endpoints:
            reason = peers.skip_reason(name, endpoint)
            said = peers.endpoint_statement(name, endpoint)
            if reason is not None:
                lines.append(f"  {'':<11} {endpoint}: not measured: {reason}")
            elif said is not None:
                lines.append(f"  {'':<11} {endpoint}: {said}")
    for endpoint in endpoints if at_rate_of else []:
        if peers.skip_reason(str(at_rate_of), endpoint) is not None:
            lines.append(
                f"  {AT_RATE:<11} {endpoint}: not paced: {at_rate_of} is not measured on it, "
                "so there is no rate to pace direct and runestone to"
            )
    return lines
