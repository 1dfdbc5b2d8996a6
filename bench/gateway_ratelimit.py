"""The per-key rate limiter: what it adds to each request, and how exact a shared limit is.

    .venv/bin/python bench/gateway_ratelimit.py [--seconds 10] [--concurrency 1,16] \\
        [--limit 120] [--burst 360]

Latency: one gateway process with the local store and one with a Redis store (Debian's
redis-server on loopback), each serving a key without limits and a key with requests, tokens and
concurrency limits far above the load (so every request goes through the limiter and none is
refused). The added latency of a limiter is the limited key's percentile minus the unlimited
key's on the same process, same cell. Upstream: bench/fast_upstream.py (5 ms, whole answers).

Accuracy: three gateway processes share one Redis; a burst of `--burst` requests for a key with
`--limit` requests per minute is spread over the three at once. With the shared store the
accepted count should equal the limit plus what refilled while the burst ran (limit/60 per
second); with the local store each process counts alone. Prints a table and the command;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio
import uvloop

import gateways
import loadgen
import procstats
from runestone_gateway import apikeys, config
from runestone_gateway.admission import auth, limits, limitstore, redisstore
from runestone_gateway.telemetry import metrics

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "devcluster"))
from devcluster.redis import RedisServer

ROUNDS = 4
HIGH = {"requestsPerMinute": 10**9, "tokensPerMinute": 10**12, "maxConcurrentRequests": 10**6}


def key(key_id: str, key_limits: dict[str, int] | None = None) -> tuple[str, dict[str, object]]:
    plaintext = apikeys.generate()
    entry: dict[str, object] = {"id": key_id, "sha256": apikeys.digest(plaintext)}
    if key_limits:
        entry["limits"] = key_limits
    return plaintext, entry


async def latency(
    target: gateways.Target, api_key: str, concurrency: int, seconds: float
) -> loadgen.Samples:
    payload = loadgen.chat_request("127.0.0.1", target.port, gateways.MODEL, api_key, False)
    await loadgen.run(
        "127.0.0.1", target.port, payload, stream=False, concurrency=concurrency, seconds=0.5
    )  # warm-up
    return await loadgen.run(
        "127.0.0.1", target.port, payload, stream=False, concurrency=concurrency, seconds=seconds
    )


async def burst(targets: list[gateways.Target], api_key: str, total: int) -> tuple[int, float]:
    """Accepted answers of `total` requests spread over `targets` at once, and how long it took."""
    started = time.perf_counter()
    share = total // len(targets)
    runs = [
        loadgen.run(
            "127.0.0.1",
            target.port,
            loadgen.chat_request("127.0.0.1", target.port, gateways.MODEL, api_key, False),
            stream=False,
            concurrency=16,
            requests=share,
        )
        for target in targets
    ]
    results = await asyncio.gather(*runs)
    return sum(r.completed for r in results), time.perf_counter() - started


async def limiter_cost(store: limitstore.Store, requests: int, concurrency: int) -> list[float]:
    """Seconds per admit + settle of one request, in this process, `concurrency` at a time."""
    limiter = limits.Limiter(store, "open", metrics.Metrics(), limits.FailureLog())
    entry = config.KeyTableEntry.model_validate({"id": "bench", "sha256": "0" * 64, "limits": HIGH})
    who = auth.principal(entry)
    times: list[float] = []

    async def one_after_another(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            ticket = await limiter.admit(who, 12)
            await ticket.settle(20, 0)
            times.append(time.perf_counter() - started)

    await asyncio.gather(*(one_after_another(requests // concurrency) for _ in range(concurrency)))
    return times


async def ping_p50(url: str) -> float:
    client = redis.asyncio.Redis.from_url(url)
    times = []
    for _ in range(2000):
        started = time.perf_counter()
        await client.ping()
        times.append(time.perf_counter() - started)
    await client.aclose()
    return procstats.percentile(times[200:], 50) * 1e6


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.3f}"


async def main_async(options: argparse.Namespace) -> None:
    concurrencies = [int(c) for c in options.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="runestone-ratelimit-") as tmp:
        workdir = Path(tmp)
        redis = RedisServer(workdir / "redis")
        redis.start()
        upstream = gateways.upstream(workdir, latency_ms=5, chunks=8)
        started: list[gateways.Target] = [upstream]
        try:
            print(
                f"Redis PING round trip from redis-py: p50 {await ping_p50(redis.url):.1f} us "
                "(the floor of one limiter call; it grows with machine load)\n"
            )
            print("in-process cost of one admit + settle (3 limits), microseconds")
            print(" store  c  |   p50     p99   | per second")
            for name in ("local", "redis"):
                for concurrency in concurrencies:
                    store: limitstore.Store = (
                        limitstore.LocalStore()
                        if name == "local"
                        else redisstore.RedisStore(redis.url)
                    )
                    await limiter_cost(store, 500, concurrency)  # warm-up, connections
                    began = time.perf_counter()
                    times = await limiter_cost(store, options.requests, concurrency)
                    rate = len(times) / (time.perf_counter() - began)
                    await store.close()
                    p50, p99 = (procstats.percentile(times, q) * 1e6 for q in (50, 99))
                    print(f" {name:6} {concurrency:2} | {p50:7.1f} {p99:7.1f} | {rate:8.0f}")
            print()
            free_key, free_entry = key("free")
            high_key, high_entry = key("limited", HIGH)
            table = [free_entry, high_entry]
            redis_store = {"type": "redis", "url": redis.url}
            local = gateways.runestone(
                workdir, upstream.port, 1, name="local", keys=table, store={"type": "local"}
            )
            shared = gateways.runestone(
                workdir, upstream.port, 1, name="redis", keys=table, store=redis_store
            )
            started += [local, shared]
            print("added latency per request of the limiter (limited key minus unlimited key)")
            print(" store  c  | unlimited p50/p99 ms | limited p50/p99 ms | added p50/p99 ms | rps")
            for target in (local, shared):
                for concurrency in concurrencies:
                    free, limited = loadgen.Samples(), loadgen.Samples()
                    for _ in range(ROUNDS):  # interleaved, so drifting machine load hits both
                        for samples, api_key in ((free, free_key), (limited, high_key)):
                            part = await latency(
                                target, api_key, concurrency, options.seconds / ROUNDS
                            )
                            samples.latencies += part.latencies
                            samples.errors += part.errors
                            samples.elapsed += part.elapsed
                    f50, f99 = (procstats.percentile(free.latencies, q) for q in (50, 99))
                    l50, l99 = (procstats.percentile(limited.latencies, q) for q in (50, 99))
                    print(
                        f" {target.name:6} {concurrency:2} | {ms(f50)} {ms(f99)}      |"
                        f" {ms(l50)} {ms(l99)}    | {ms(l50 - f50)} {ms(l99 - f99)}  |"
                        f" {limited.throughput:6.0f}  errors {free.errors + limited.errors}"
                    )
            for target in (local, shared):
                target.stop()

            print(
                f"\naccuracy: {options.burst} requests at once over 3 processes, "
                f"key limited to {options.limit} requests per minute"
            )
            for name, spec in (("redis", redis_store), ("local", {"type": "local"})):
                burst_key, burst_entry = key("burst", {"requestsPerMinute": options.limit})
                trio = [
                    gateways.runestone(
                        workdir,
                        upstream.port,
                        1,
                        name=f"{name}-{i}",
                        keys=[burst_entry],
                        store=spec,
                    )
                    for i in range(3)
                ]
                started += trio
                accepted, took = await burst(trio, burst_key, options.burst)
                refill = took * options.limit / 60
                print(
                    f" {name:6} store: accepted {accepted} (limit {options.limit}; the burst took "
                    f"{took:.2f} s, in which {refill:.1f} requests refill)"
                )
                for target in trio:
                    target.stop()
        finally:
            for target in started:
                target.stop()
            redis.stop()
    print(f"\nmachine load: {procstats.load_average()}")
    print(f"command: {procstats.command_line()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per latency cell")
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--limit", type=int, default=120, help="requests per minute (accuracy)")
    parser.add_argument("--burst", type=int, default=360, help="requests in the burst")
    parser.add_argument("--requests", type=int, default=20000, help="in-process limiter calls")
    uvloop.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
