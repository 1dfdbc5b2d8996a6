"""What a gateway adds to each request: direct to a fast mock upstream (the floor), through the
Runestone gateway, and through other gateways (LiteLLM proxy, TensorZero, Portkey), measured in
one run with the same load generator.

    .venv/bin/python bench/gateway_overhead.py [--workers 1] [--seconds 10] \\
        [--soak-requests 100000] [--concurrency 1,4,16,64] \\
        [--targets direct,runestone,litellm[,tensorzero,tensorzero2,portkey,before,floor-raw,\\
        floor-asgi]] \\
        [--before DIR] [--real-headers] [--at-rate-of tensorzero] \\
        [--endpoints chat,responses,messages,responses-native,messages-native,search] \\
        [--search-documents 8] [--pin] [--sched-trace]

The upstream answers every chat completion after a fixed latency (5 ms), whole or streamed
(bench/fast_upstream.py). The load generator (bench/loadgen.py) keeps `c` keep-alive connections
busy, one request at a time each, for `--seconds` per cell and target, split into `--rounds`
that interleave the targets (so the machine's load falls on all alike), each after a short
warm-up. Runestone runs with auth, per-key limits (never reached), metrics and its access log
on, as users run it; each target's line under the figures says what it does and does not do
in the run (bench/peers.py). Runestone and LiteLLM run `--workers` processes; TensorZero's one
process runs 1 (`tensorzero`) or 2 (`tensorzero2`) tokio threads, so `--workers 2` puts
Runestone beside `tensorzero2`; Portkey is one Node process. The optional targets
`floor-raw` and `floor-asgi` (bench/floor_proxy.py) are bare Python proxies with no gateway
logic: what one Python hop, and one ASGI app on uvicorn, cost on this machine. The target
`before` is the gateway from another checkout (`--before DIR`, e.g. a worktree of an earlier
commit), measured side by side with this one.

A closed loop gives each target the load its own speed makes: a gateway that ends its streams
late (TensorZero's streamed answers end about 42 ms after the upstream's) serves fewer requests
per second at the same `c`, and its first-token latency is then measured at a lighter load.
`--at-rate-of TARGET` also measures `direct` and `runestone` paced to that target's request rate
in each round (bench/loadgen.py's `rate`), and prints each gateway's added latency at that same
load against the paced upstream (targets `direct@rate`, `runestone@rate`).

`--endpoints` picks the gateway's APIs to measure (chat completions by default), each against
its own direct cell: `responses` and `messages` are OpenAI's Responses and Anthropic's Messages
translated to chat for the same chat upstream (so their direct cell is chat's), and
`responses-native` / `messages-native` the same endpoints passed through to an upstream that
speaks them (an OpenAI provider with `api: responses`, an Anthropic provider; the upstream
answers in those APIs, and their direct cells are those APIs). The comparisons then give each
endpoint's added p50 over chat completions through the gateway at c=1 and its throughput against
chat's at c=16. `direct` and `runestone` serve every endpoint; a cell another target cannot
serve is skipped with the reason printed (peers.skip_reason). Under the comparisons, `where
runestone stands` sets Runestone beside each peer in every chat cell both were measured in
(added p50 and p99, ahead or behind and by how much, with the cores Runestone kept busy in the
cell and, when `floor-raw` ran in it too, where that bare hop stands against the same peer) and
says how far its added p50 at c=1 is above `floor-raw`'s.

`search` is the vector-store search (`POST /v1/vector_stores/{id}/search`, hybrid, 5 results),
as bench/retrieval.py measures it (bench/vector_search.py). Only with it, a real Weaviate node
(the pinned build the tests use) runs on loopback; the runestone target keeps its vector stores
there and embeds with the gateway's built-in mock embedding model (in process), so the cell
measures the gateway's own work, not a model's. After the soak, `--search-documents` generated
documents are ingested once through the runestone target with its own key, which then owns the
store. Its `direct` cell is the GraphQL hybrid query the gateway sends (built by the gateway's
own code) posted straight to the node with the query's vector in hand; so runestone's added
latency is embedding the query, reading the store's record and the gateway's own handling. A
search answer is one JSON page, so search is measured whole only (no stream cells). Its cpu
column is Weaviate's for `direct` and the gateway's alone for `runestone` (the node's share is
not counted there). No other target has vector stores: each is skipped with its reason, and so
are the paced cells of `--at-rate-of` (the peer has no request rate on search to pace to).

Where the processes run: by default anywhere, so on a machine of few cores a gateway shares its
cores with the load generator and the upstream, and each write that wakes one of them may hand
it the gateway's core (the `preempt/req` column counts how often a target lost its core so).
`--pin` puts the targets on the last core and everything else on the others, as a gateway in a
pod of its own would run; one worker or thread per target then. `--sched-trace` also records the
kernel scheduler's events in every measured round (bench/schedtrace.py; needs root) and prints,
per cell, how often the target slept and lost its core per answer, whether another core was idle
then, who took it, how long it had run when it lost it, and how long a woken thread waited to run.

Per target: resident memory (the whole process tree) after start-up and a warm-up, then after
`--soak-requests` more requests at concurrency 16 (half streamed; `--litellm-soak-requests` for
LiteLLM, which is far slower), then the cells. Added latency
is the gateway's percentile minus the direct percentile of the same cell; for streams the first
column is time to first token (first event). With `--real-headers` the requests carry the
headers of the official `openai` SDK and the upstream's answers those of a hosted provider (see
bench/gateway_path.py). Prints a table and the command; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import uvloop

import gateways
import loadgen
import peers
import procstats
import schedtrace
import vector_search  # puts tests/ on the path, for the next import
from integration.sidecar import weaviate
from overhead_report import (
    AT_RATE,
    SEARCH,
    Cell,
    Memory,
    report,
    run_statement,
)


@dataclass(frozen=True)
class Measured:
    """One gateway endpoint as measured: what the client sends (to which model), and what the
    gateway sends the upstream, which the `direct` target sends it instead."""

    api: loadgen.Endpoint
    model: str
    upstream: loadgen.Endpoint
    streamed: bool = True
    """Whether it is measured streamed too (a search answers whole)."""
    floor: gateways.Target | None = None
    """Where `direct` sends `upstream`, when not to the chat upstream (search: the node)."""


ENDPOINTS = {
    "chat": Measured(loadgen.CHAT, gateways.MODEL, loadgen.CHAT),
    "responses": Measured(loadgen.ENDPOINTS["responses"], gateways.MODEL, loadgen.CHAT),
    "messages": Measured(loadgen.ENDPOINTS["messages"], gateways.MODEL, loadgen.CHAT),
    "responses-native": Measured(
        loadgen.ENDPOINTS["responses"], gateways.RESPONSES_MODEL, loadgen.ENDPOINTS["responses"]
    ),
    "messages-native": Measured(
        loadgen.ENDPOINTS["messages"], gateways.MESSAGES_MODEL, loadgen.ENDPOINTS["messages"]
    ),
}
ENDPOINT_NAMES = (*ENDPOINTS, SEARCH)
SLOW_TARGETS = ("litellm",)
"""Soaked with `--litellm-soak-requests`, not `--soak-requests`."""


def payload(
    target: gateways.Target,
    endpoint: str,
    stream: bool,
    sdk_headers: bool = False,
    table: Mapping[str, Measured] = ENDPOINTS,
) -> tuple[loadgen.Endpoint, bytes]:
    """The API `target` is driven on for `endpoint` (at the target's own path) and the request
    it gets: the model under the target's own name, with the target's routing headers."""
    measured = table[endpoint]
    api, model = measured.api, measured.model
    if target.name == "direct":
        api, model = measured.upstream, gateways.MODEL
    headers = target.headers.get(api.name, ())
    if target.prefix:
        api = dataclasses.replace(api, path=target.prefix + api.path)
    document = loadgen.request(
        api,
        "127.0.0.1",
        target.port,
        target.model_prefix + model,
        target.api_key,
        stream,
        sdk_headers,
        headers,
    )
    return api, document


async def _drive(
    target: gateways.Target,
    stream: bool,
    concurrency: int,
    *,
    requests: int | None = None,
    seconds: float | None = None,
    sdk_headers: bool = False,
    endpoint: str = "chat",
    rate: float | None = None,
    table: Mapping[str, Measured] = ENDPOINTS,
) -> loadgen.Samples:
    api, request = payload(target, endpoint, stream, sdk_headers, table)
    return await loadgen.run(
        "127.0.0.1",
        target.port,
        request,
        stream=stream,
        concurrency=concurrency,
        requests=requests,
        seconds=seconds,
        endpoint=api,
        rate=rate,
    )


async def soak(
    target: gateways.Target, requests: int, memory: Memory, sdk_headers: bool = False
) -> None:
    """Resident memory after a warm-up, and again after `requests` more (half streamed)."""
    memory.started = procstats.rss_mb(target.pid)
    for stream in (False, True):
        await _drive(target, stream, 16, requests=1000, sdk_headers=sdk_headers)
    memory.before = procstats.rss_mb(target.pid)
    for stream in (False, True):
        soaked = await _drive(target, stream, 16, requests=requests // 2, sdk_headers=sdk_headers)
        memory.soak_requests += soaked.completed
        memory.soak_errors += soaked.errors
    memory.after = procstats.rss_mb(target.pid)


async def measure(
    targets: list[gateways.Target],
    options: argparse.Namespace,
    table: Mapping[str, Measured] = ENDPOINTS,
    tracing: schedtrace.Tracing | None = None,
) -> list[Cell]:
    """Every cell for every target, the targets interleaved: each round of a cell runs it on
    each target in turn, so a change in the machine's load falls on all of them alike. A cell's
    rounds are done before the next cell starts, so what a heavy cell leaves behind (idle
    connections timing out, a gateway's backlog) never lands in a light cell's rounds."""
    cells = {
        (target.name, endpoint, stream, concurrency): Cell(
            target.name, stream, concurrency, endpoint
        )
        for endpoint in options.endpoints
        for stream in _modes(table[endpoint])
        for concurrency in options.concurrency
        for target in targets
        if peers.skip_reason(target.name, endpoint) is None
    }
    window = options.seconds / options.rounds
    real = options.real_headers
    paced = [t for t in targets if t.name in ("direct", "runestone")] if options.at_rate_of else []
    for endpoint in options.endpoints:
        for stream in _modes(table[endpoint]):
            for concurrency in options.concurrency:
                for _ in range(options.rounds):
                    rates: dict[str, float] = {}
                    for target in targets:
                        cell = cells.get((target.name, endpoint, stream, concurrency))
                        if cell is None:
                            continue
                        driven = _driven(target, table[endpoint])
                        await _drive(
                            driven,
                            stream,
                            concurrency,
                            seconds=min(1.0, window),
                            sdk_headers=real,
                            endpoint=endpoint,
                            table=table,
                        )
                        samples = await _measured(
                            cell, driven, window, real, table=table, tracing=tracing
                        )
                        rates[target.name] = samples.throughput
                    rate = rates.get(options.at_rate_of or "")
                    for target in paced if rate else []:
                        # The same load for both: the peer's request rate in this round.
                        name = f"{target.name}{AT_RATE}"
                        key = (name, endpoint, stream, concurrency)
                        cell = cells.setdefault(key, Cell(name, stream, concurrency, endpoint))
                        driven = _driven(target, table[endpoint])
                        await _measured(cell, driven, window, real, rate, table, tracing)
    return list(cells.values())


def _modes(measured: Measured) -> tuple[bool, ...]:
    """Whole answers, then streams where the endpoint streams."""
    return (False, True) if measured.streamed else (False,)


def _driven(target: gateways.Target, measured: Measured) -> gateways.Target:
    """The process `target`'s requests for `measured` go to: the endpoint's own floor for
    `direct` where it has one (search: the Weaviate node), else the target itself."""
    if target.name == "direct" and measured.floor is not None:
        return measured.floor
    return target


async def _measured(
    cell: Cell,
    target: gateways.Target,
    seconds: float,
    sdk_headers: bool,
    rate: float | None = None,
    table: Mapping[str, Measured] = ENDPOINTS,
    tracing: schedtrace.Tracing | None = None,
) -> loadgen.Samples:
    """One round of `cell` on `target`, added to the cell with the CPU the target used and how
    often it was preempted; with `tracing`, what the kernel's trace of the round shows."""
    cpu = procstats.cpu_seconds(target.pid)
    preempted = procstats.preemptions(target.pid)
    threads: set[int] = set()
    if tracing:
        threads = schedtrace.threads(target.pid)
        tracing.recording.start()
    samples = await _drive(
        target,
        cell.stream,
        cell.concurrency,
        seconds=seconds,
        sdk_headers=sdk_headers,
        endpoint=cell.endpoint,
        rate=rate,
        table=table,
    )
    cell.add(
        samples,
        procstats.cpu_seconds(target.pid) - cpu,
        procstats.preemptions(target.pid) - preempted,
    )
    if tracing:
        lines = tracing.recording.stop()
        threads |= schedtrace.threads(target.pid)
        summary = schedtrace.summarise(lines, threads, tracing.groups())
        summary.lost = tracing.recording.lost
        if cell.sched is None:
            cell.sched = summary
        else:
            cell.sched.add(summary)
    return samples


def search_endpoint(
    runestone: gateways.Target, node: weaviate.WeaviateNode, documents: int
) -> Measured:
    """The search cell: `documents` ingested into a store through `runestone` with its key (so
    that key owns the store), the search through it, and the gateway's query to `node` as the
    `direct` cell; the two are checked to find the same chunks."""
    assert runestone.api_key is not None
    print("search: a store ingested through runestone", flush=True)
    store_id = vector_search.ingest(runestone.port, runestone.api_key, node, documents)
    requests = vector_search.requests(
        runestone.port, runestone.api_key, node, store_id, vector_search.MOCK_MODEL
    )
    vector_search.check_same_answer(requests)
    return search_measured(requests, node.popen)


def search_measured(
    requests: Mapping[str, vector_search.Request], node: subprocess.Popen[bytes] | None
) -> Measured:
    """The search through the gateway, whole only, with the gateway's query to the node
    (process `node`) as what `direct` sends."""
    direct = requests["direct"]
    return Measured(
        requests["gateway"].endpoint(SEARCH),
        gateways.MODEL,
        direct.endpoint("graphql"),
        streamed=False,
        floor=gateways.Target("direct", direct.port, direct.key, node),
    )


async def main_async(options: argparse.Namespace) -> None:
    memories: dict[str, Memory] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        placement = "every process on any core"
        if options.pin:
            harness, cores = gateways.pin()
            placement = (
                f"targets pinned to core {_cores(cores)}, the load generator and the upstream "
                f"to {_cores(harness)}"
            )
        node = None
        if SEARCH in options.endpoints:  # the node stops after the targets (the stack unwinds)
            node = stack.enter_context(vector_search.node(workdir / "weaviate"))
        stores = vector_search.vector_stores(node, vector_search.MOCK_MODEL) if node else None
        upstream = gateways.upstream(
            workdir, options.latency_ms, options.chunks, provider_headers=options.real_headers
        )
        targets: list[gateways.Target] = []
        try:
            for name in options.targets:
                if name == "direct":
                    targets.append(upstream)
                elif name == "runestone":
                    own_apis = any(e.endswith("-native") for e in options.endpoints)
                    targets.append(
                        gateways.runestone(
                            workdir,
                            upstream.port,
                            options.workers,
                            own_apis=own_apis,
                            limits=peers.RUNESTONE_KEY_LIMITS,
                            vector_stores=stores,
                            providers=[vector_search.MOCK_PROVIDER] if stores else [],
                        )
                    )
                elif name in peers.TENSORZERO_THREADS:
                    targets.append(peers.tensorzero(workdir, upstream.port, name))
                elif name == "portkey":
                    targets.append(peers.portkey(workdir, upstream.port))
                elif name == "before":
                    targets.append(
                        gateways.runestone(
                            workdir,
                            upstream.port,
                            options.workers,
                            name="before",
                            source=options.before,
                            limits=peers.RUNESTONE_KEY_LIMITS,
                        )
                    )
                elif name.startswith("floor-"):
                    kind = name.removeprefix("floor-")
                    targets.append(gateways.floor_proxy(workdir, upstream.port, kind))
                else:
                    targets.append(gateways.litellm(workdir, upstream.port, options.workers))
            for target in targets:
                started = time.monotonic()
                memories[target.name] = Memory()
                requests = (
                    options.litellm_soak_requests
                    if target.name in SLOW_TARGETS
                    else options.soak_requests
                )
                await soak(target, requests, memories[target.name], options.real_headers)
                print(f"{target.name}: soaked in {time.monotonic() - started:.0f}s", flush=True)
            table: dict[str, Measured] = dict(ENDPOINTS)
            if node is not None:
                runestone = next(t for t in targets if t.name == "runestone")
                table[SEARCH] = search_endpoint(runestone, node, options.search_documents)
            tracing = None
            if options.sched_trace:
                recording = stack.enter_context(schedtrace.Recording())
                tracing = schedtrace.Tracing(recording, upstream.pid)
            started = time.monotonic()
            cells = await measure(targets, options, table, tracing)
            print(f"cells measured in {time.monotonic() - started:.0f}s", flush=True)
        finally:
            for target in targets:
                if target is not upstream:
                    target.stop()
            upstream.stop()
    print()
    print(f"command: {procstats.command_line()}")
    print(
        f"upstream latency {options.latency_ms} ms, {options.chunks} content events per stream; "
        f"{options.workers} worker(s) for runestone and litellm; litellm "
        f"{gateways.LITELLM_VERSION}, tensorzero {peers.TENSORZERO_VERSION}, portkey "
        f"{peers.PORTKEY_VERSION}; "
        f"load generator: bench/loadgen.py (uvloop + httptools, closed loop, keep-alive); "
        f"headers: {gateways.headers_label(options.real_headers)}"
    )
    print(f"load average at the end: {procstats.load_average()}; {placement}")
    print()
    print("\n".join(run_statement(options.targets, options.endpoints, options.at_rate_of)))
    print()
    gateway_targets = [t for t in targets if peers.family(t.name) not in ("direct", "floor")]
    print(report(cells, memories, {t.name: t.workers for t in gateway_targets}, list(ENDPOINTS)))
    traced = [(_label(cell), cell.sched, cell.samples.completed) for cell in cells if cell.sched]
    if traced:
        print()
        print("\n".join(schedtrace.report(traced)))


def _label(cell: Cell) -> str:
    mode = "stream" if cell.stream else "whole"
    return f"{cell.endpoint} {cell.target} {mode} c={cell.concurrency}"


def _cores(cores: set[int]) -> str:
    return ",".join(str(core) for core in sorted(cores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=12.0, help="per cell and target")
    parser.add_argument("--rounds", type=int, default=3, help="the seconds are split in rounds")
    parser.add_argument("--soak-requests", type=int, default=100_000)
    parser.add_argument(
        "--litellm-soak-requests",
        type=int,
        default=5_000,
        help="LiteLLM serves tens of requests per second here: 100k would take the better "
        "part of an hour",
    )
    parser.add_argument(
        "--concurrency", type=lambda text: [int(c) for c in text.split(",")], default=[1, 4, 16, 64]
    )
    parser.add_argument(
        "--targets",
        type=lambda text: text.split(","),
        default=["direct", "runestone", "litellm"],
    )
    parser.add_argument(
        "--before", type=Path, help="a checkout whose gateway is the target `before`"
    )
    parser.add_argument(
        "--endpoints",
        type=lambda text: text.split(","),
        default=["chat"],
        help=f"of {', '.join(ENDPOINT_NAMES)} (see the module's notes)",
    )
    parser.add_argument(
        "--search-documents",
        type=int,
        default=8,
        help="documents (about 1,500 words each) in the store the search cell searches",
    )
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument(
        "--at-rate-of",
        metavar="TARGET",
        help="also measure direct and runestone paced to this target's request rate in each "
        "round (a closed loop gives each gateway the load its own speed makes)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run the targets on the last core and the load generator and the upstream on the "
        "others (a gateway with a core of its own); one worker or thread per target",
    )
    parser.add_argument(
        "--sched-trace",
        action="store_true",
        help="also record the kernel scheduler's events in each measured round and print what "
        "they show (bench/schedtrace.py; needs root)",
    )
    gateways.add_headers_option(parser)
    options = parser.parse_args()
    known = {"direct", "runestone", "litellm", "floor-raw", "floor-asgi", "before", "portkey"}
    known |= set(peers.TENSORZERO_THREADS)
    unknown = set(options.targets) - known
    if unknown:
        parser.error(f"unknown targets: {sorted(unknown)}")
    unknown_endpoints = set(options.endpoints) - set(ENDPOINT_NAMES)
    if unknown_endpoints:
        parser.error(f"unknown endpoints: {sorted(unknown_endpoints)}")
    if options.at_rate_of and not {options.at_rate_of, "direct", "runestone"} <= set(
        options.targets
    ):
        parser.error("--at-rate-of needs that target, direct and runestone among the targets")
    if SEARCH in options.endpoints and "runestone" not in options.targets:
        parser.error("search needs the runestone target: its store is ingested through it")
    threads = max(peers.TENSORZERO_THREADS.get(name, 1) for name in options.targets)
    if options.pin and max(options.workers, threads) > 1:
        parser.error("--pin gives the targets one core: --workers 1, tensorzero not tensorzero2")
    if options.sched_trace and os.geteuid() != 0:
        parser.error("--sched-trace reads the kernel's trace (tracefs): run it as root")
    if ("before" in options.targets) != (options.before is not None):
        parser.error("the target `before` and --before DIR go together")
    uvloop.run(main_async(options))


if __name__ == "__main__":
    main()
