"""Where the Runestone gateway spends its CPU under load: py-spy samples one gateway worker while
the load generator drives it against the fast upstream, then the hottest functions are printed
(by own time and by time including callees), and the collapsed stacks are kept for a flame graph.

    .venv/bin/python bench/gateway_profile.py [--seconds 20] [--concurrency 16] [--stream] \\
        [--search] [--out /tmp/gateway.folded]

With `--search` the load is the vector-store search of bench/vector_search.py instead (a real
Weaviate node, a store of a few generated documents ingested through the gateway, the built-in
mock embedding model), answered whole.

py-spy is taken from PATH, or installed on first use into ~/.cache/runestone/bench/tools
(its own venv, never the project's). Needs ptrace rights over the gateway (root here)."""

from __future__ import annotations

import argparse
import collections
import contextlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import uvloop

import gateways
import loadgen
import procstats
import vector_search  # puts tests/ on the path, for the next import
from integration.sidecar import weaviate

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


async def load(
    target: gateways.Target, payload: bytes, stream: bool, concurrency: int, seconds: float
) -> str:
    samples = await loadgen.run(
        "127.0.0.1", target.port, payload, stream=stream, concurrency=concurrency, seconds=seconds
    )
    return (
        f"{samples.throughput:.0f} req/s, {samples.errors} errors, p50 "
        f"{procstats.percentile(samples.latencies, 50) * 1000:.2f} ms while sampled"
    )


def search_payload(gateway: gateways.Target, node: weaviate.WeaviateNode) -> bytes:
    """The search request, on a store ingested through `gateway` with its key."""
    assert gateway.api_key is not None
    store_id = vector_search.ingest(gateway.port, gateway.api_key, node, 8)
    requests = vector_search.requests(
        gateway.port, gateway.api_key, node, store_id, vector_search.MOCK_MODEL
    )
    return requests["gateway"].raw()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--search", action="store_true", help="the vector-store search instead")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, help="keep the collapsed stacks here")
    options = parser.parse_args()
    spy = py_spy()
    if options.search and options.stream:
        parser.error("a search is answered whole: --search goes without --stream")
    with (
        tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        node = (
            stack.enter_context(vector_search.node(workdir / "weaviate"))
            if options.search
            else None
        )
        upstream = gateways.upstream(workdir, 5.0, 8)
        gateway = gateways.runestone(
            workdir,
            upstream.port,
            1,
            vector_stores=vector_search.vector_stores(node, vector_search.MOCK_MODEL)
            if node
            else None,
            providers=[vector_search.MOCK_PROVIDER] if node else [],
        )
        folded = options.out or workdir / "gateway.folded"
        try:
            if node is not None:
                payload = search_payload(gateway, node)
            else:
                payload = loadgen.chat_request(
                    "127.0.0.1", gateway.port, gateways.MODEL, gateway.api_key, options.stream
                )
            uvloop.run(load(gateway, payload, options.stream, options.concurrency, 2.0))  # warm-up
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
                load(gateway, payload, options.stream, options.concurrency, options.seconds + 1)
            )
            _, errors = sampler.communicate(timeout=120)
            if sampler.returncode != 0:
                raise SystemExit(f"py-spy failed: {errors.decode(errors='replace')}")
        finally:
            gateway.stop()
            upstream.stop()
        print(f"command: {procstats.command_line()}")
        print(f"load average: {procstats.load_average()}")
        what = "searches" if options.search else "streamed" if options.stream else "whole"
        print(f"{what} answers, c={options.concurrency}: {summary}")
        print(hottest(folded, options.top))
        if options.out:
            print(f"collapsed stacks: {options.out} (flamegraph.pl or speedscope read them)")


if __name__ == "__main__":
    main()
