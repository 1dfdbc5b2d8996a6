"""The gateway's own work on a request at concurrency 1, timed inside the gateway process.

    .venv/bin/python bench/gateway_path.py [--requests 4000] [--rounds 4] [--before DIR] [--points]
        [--real-headers]

At c=1 the added latency of bench/gateway_overhead.py is the gateway's own code plus the
wake-ups of the processes around it (two more per request through any proxy), and the wake-ups
move with the machine's state by as much as the code costs (bench/loopback_wakeup.py). This
bench takes the machine out of the figure: the gateway runs under bench/path_probe.py, which
times the two stretches of a request where only the gateway's code runs, from the request's
bytes arriving to the request leaving for the upstream (`in`), and from the upstream's answer
arriving to the answer (for a stream, its first event) being written to the client (`out`).
It also counts the garbage collector's passes (from the first request on) and their longest
pause.

The fast upstream (bench/fast_upstream.py, 5 ms), the load generator and the gateway's key
(limited, never reached: peers.RUNESTONE_KEY_LIMITS) are those of bench/gateway_overhead.py;
whole and streamed requests, the targets' rounds interleaved. With `--before DIR` another
checkout's gateway (e.g. a worktree of an earlier commit) is measured side by side. Added p50
against the upstream direct is printed for context. With `--points` the probe also marks the
steps in between (bench/path_probe.py POINTS) and the median time from each mark to the next
is printed: where the `in` and `out` stretches go. With `--real-headers` the requests carry the
headers of the official `openai` SDK (loadgen.SDK_HEADERS) and the upstream's answers those of
a hosted provider (fast_upstream.PROVIDER_HEADERS), 17 and 25 headers instead of 4 and 2.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson
import uvloop

import gateways
import loadgen
import peers
import procstats

WARM_UP = 300


@dataclass
class Result:
    inbound: list[int]  # nanoseconds per request, after the warm-up
    outbound: list[int]
    after: list[int]  # the answer's last write -> the app done with the request
    turnaround: list[int]  # the answer's last write -> the next request's bytes in
    collections: list[tuple[int, int]]  # (generation, nanoseconds) of every pass
    requests: int  # all the gateway served, warm-up included
    added: list[float]  # added p50 (ms) against direct, per round
    segments: dict[str, list[int]]  # "mark -> next mark": nanoseconds, with --points


async def _p50(
    target: gateways.Target, stream: bool, requests: int, sdk_headers: bool = False
) -> float:
    payload = loadgen.chat_request(
        "127.0.0.1", target.port, gateways.MODEL, target.api_key, stream, sdk_headers
    )
    await loadgen.run("127.0.0.1", target.port, payload, stream=stream, concurrency=1, requests=50)
    samples = await loadgen.run(
        "127.0.0.1", target.port, payload, stream=stream, concurrency=1, requests=requests
    )
    if samples.errors:
        raise RuntimeError(f"{target.name}: {samples.errors} errors {samples.error_kinds}")
    return procstats.percentile(samples.first_bytes if stream else samples.latencies, 50)


def _us(values: list[int], q: float) -> float:
    return procstats.percentile([value / 1000 for value in values], q)


async def main_async(options: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="runestone-bench-path-"))
    if options.points:
        os.environ["RUNESTONE_PATH_PROBE_POINTS"] = "1"  # the gateways inherit it
    sources: dict[str, Path | None] = {"runestone": None}
    if options.before:
        sources = {"before": options.before, **sources}
    upstream = gateways.upstream(
        workdir, options.latency_ms, options.chunks, provider_headers=options.real_headers
    )
    real = options.real_headers
    results: dict[str, Result] = {}
    for stream in (False, True):
        mode = "stream" if stream else "whole"
        probes = {name: workdir / f"{name}-{mode}.json" for name in sources}
        targets = [
            gateways.runestone(
                workdir,
                upstream.port,
                1,
                name=name,
                source=source,
                probe=probes[name],
                limits=peers.RUNESTONE_KEY_LIMITS,  # as in gateway_overhead.py
            )
            for name, source in sources.items()
        ]
        added: dict[str, list[float]] = collections.defaultdict(list)
        try:
            for target in targets:  # warm-up, left out of the probe's figures below
                await _p50(target, stream, WARM_UP - 50, real)
            for _ in range(options.rounds):
                direct = await _p50(upstream, stream, options.requests // options.rounds, real)
                for target in targets:
                    through = await _p50(target, stream, options.requests // options.rounds, real)
                    added[target.name].append((through - direct) * 1000)
        finally:
            for target in targets:
                target.stop()
        for name, probe in probes.items():
            report = orjson.loads(probe.read_bytes())
            results[f"{name} {mode}"] = Result(
                report["inbound"][WARM_UP:],
                report["outbound"][WARM_UP:],
                report.get("after", [])[WARM_UP:],
                report.get("turnaround", [])[WARM_UP:],
                [tuple(entry) for entry in report["collections"]],
                len(report["inbound"]),
                added[name],
                {step: values[WARM_UP:] for step, values in report.get("segments", {}).items()},
            )
    upstream.stop()
    _report(results, options)


def _report(results: dict[str, Result], options: argparse.Namespace) -> None:
    print(f"command: {procstats.command_line()}")
    print(f"load average at the end: {procstats.load_average()}")
    print(
        f"upstream latency {options.latency_ms} ms; concurrency 1; rounds {options.rounds};"
        f" headers: {gateways.headers_label(options.real_headers)}"
    )
    print("microseconds of the gateway's own code per request: in = request bytes in -> request")
    print("out to the upstream; out = upstream answer in -> answer (first event) out to the")
    print("client; after = the answer's last write done -> the app done with the request; next =")
    print("the answer's last write done -> the next request in (after > next: the gateway held up")
    print("the next request)")
    print()
    print(
        f"{'target':17} {'in p50':>7} {'p90':>7} {'out p50':>8} {'p90':>7} {'sum p50':>8}"
        f" {'after p50':>9} {'next p50':>8}"
        f" {'gc/1k req (gen 0/1/2)':>22} {'longest gc ms':>14}  added p50 ms by round"
    )
    for name, result in results.items():
        per_generation = collections.Counter(generation for generation, _ in result.collections)
        per_1k = "/".join(
            f"{per_generation[generation] * 1000 / result.requests:.1f}" for generation in (0, 1, 2)
        )
        longest = max((duration for _, duration in result.collections), default=0) / 1e6
        sums = [a + b for a, b in zip(result.inbound, result.outbound, strict=True)]
        print(
            f"{name:17} {_us(result.inbound, 50):7.1f} {_us(result.inbound, 90):7.1f}"
            f" {_us(result.outbound, 50):8.1f} {_us(result.outbound, 90):7.1f}"
            f" {_us(sums, 50):8.1f} {_us(result.after, 50):9.1f} {_us(result.turnaround, 50):8.1f}"
            f" {per_1k:>22} {longest:14.1f} " + " ".join(f"{value:.2f}" for value in result.added)
        )
    if options.points:
        _report_points(results)


def _report_points(results: dict[str, Result]) -> None:
    """Per mode, the median microseconds from each mark to the next, the targets side by side.
    Steps seen in fewer than half the requests (a path taken now and then) are left out."""
    for mode in ("whole", "stream"):
        names = [name for name in results if name.endswith(mode)]
        steps: dict[str, None] = {}
        for name in reversed(names):  # this checkout's order first
            result = results[name]
            for step, values in result.segments.items():
                if len(values) * 2 >= len(result.inbound):
                    steps.setdefault(step)
        print()
        print(f"{mode}: median µs from one mark to the next")
        print(" ".join(f"{name.rsplit(' ', 1)[0]:>10}" for name in names) + "  step")
        for step in steps:
            cells = []
            for name in names:
                durations = results[name].segments.get(step)
                cells.append(f"{_us(durations, 50):10.1f}" if durations else f"{'-':>10}")
            print(" ".join(cells) + f"  {step}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="per target and mode")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--before", type=Path, help="a checkout whose gateway is the target `before`"
    )
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--points", action="store_true", help="also time the steps in between")
    gateways.add_headers_option(parser)
    uvloop.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
