"""Where the Runestone gateway spends its CPU under load: py-spy samples one gateway worker while
the load generator drives it against the fast upstream, then the hottest functions are printed
(by own time and by time including callees), and the collapsed stacks are kept for a flame graph.

    .venv/bin/python bench/gateway_profile.py [--seconds 20] [--concurrency 16] [--stream] \\
        [--out /tmp/gateway.folded]

py-spy is taken from PATH, or installed on first use into ~/.cache/runestone/bench/tools
(its own venv, never the project's). Needs ptrace rights over the gateway (root here)."""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import uvloop

import gateways
import loadgen
import procstats

PY_SPY_VERSION = "0.4.3"


def py_spy() -> str:
    found = shutil.which("py-spy")
    if found:
        return found
    venv = gateways.CACHE / "tools"
    binary = venv / "bin" / "py-spy"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, f"py-spy=={PY_SPY_VERSION}"], check=True)
    return str(binary)


def hottest(folded: Path, top: int) -> str:
    """Own and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples"]
    for title, counter in (("own time", own), ("including callees", inclusive)):
        lines.append(f"top {top} by {title}:")
        for frame, count in counter.most_common(top):
            lines.append(f"  {count / total * 100:5.1f}%  {frame}")
    return "\n".join(lines)


async def load(target: gateways.Target, stream: bool, concurrency: int, seconds: float) -> str:
    payload = loadgen.chat_request("127.0.0.1", target.port, gateways.MODEL, target.api_key, stream)
    samples = await loadgen.run(
        "127.0.0.1", target.port, payload, stream=stream, concurrency=concurrency, seconds=seconds
    )
    return (
        f"{samples.throughput:.0f} req/s, {samples.errors} errors, p50 "
        f"{procstats.percentile(samples.latencies, 50) * 1000:.2f} ms while sampled"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, help="keep the collapsed stacks here")
    options = parser.parse_args()
    spy = py_spy()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        workdir = Path(tmp)
        upstream = gateways.upstream(workdir, 5.0, 8)
        gateway = gateways.runestone(workdir, upstream.port, 1)
        folded = options.out or workdir / "gateway.folded"
        try:
            uvloop.run(load(gateway, options.stream, options.concurrency, 2.0))  # warm-up
            sampler = subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(gateway.pid),
                    "--format",
                    "raw",
                    "--output",
                    str(folded),
                    "--duration",
                    str(int(options.seconds)),
                    "--rate",
                    "250",
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            summary = uvloop.run(
                load(gateway, options.stream, options.concurrency, options.seconds + 1)
            )
            _, errors = sampler.communicate(timeout=120)
            if sampler.returncode != 0:
                raise SystemExit(f"py-spy failed: {errors.decode(errors='replace')}")
        finally:
            gateway.stop()
            upstream.stop()
        print(f"command: {procstats.command_line()}")
        print(f"load average: {procstats.load_average()}")
        print(
            f"{'streamed' if options.stream else 'whole'} answers, "
            f"c={options.concurrency}: {summary}"
        )
        print(hottest(folded, options.top))
        if options.out:
            print(f"collapsed stacks: {options.out} (flamegraph.pl or speedscope read them)")


if __name__ == "__main__":
    main()
