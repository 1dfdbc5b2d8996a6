"""The gateway's resident memory over a long run: does it level off, or grow with every request?

    .venv/bin/python bench/gateway_soak.py [--requests 400000] [--step 25000] [--concurrency 16] \\
        [--real-headers]

One gateway worker (the configuration of bench/gateway_overhead.py) in front of
bench/fast_upstream.py; requests at `--concurrency`, half whole and half streamed, and the
resident memory of the gateway's process tree printed after every `--step` of them.
bench/gateway_overhead.py reports the growth over one stretch of 100,000 requests; this shows its
shape. With `--real-headers`, the official SDK's request headers and a hosted provider's answer
headers (see bench/gateway_path.py). Stops at the first request that fails; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import uvloop

import gateways
import loadgen
import procstats


async def main_async(options: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="runestone-bench-soak-"))
    upstream = gateways.upstream(workdir, 5.0, 8, provider_headers=options.real_headers)
    gateway = gateways.runestone(workdir, upstream.port, 1)
    payloads = {
        stream: loadgen.chat_request(
            "127.0.0.1", gateway.port, gateways.MODEL, gateway.api_key, stream, options.real_headers
        )
        for stream in (False, True)
    }
    print(f"command: {procstats.command_line()}")
    print(f"{'requests':>9} {'rss MB':>7}")
    print(f"{0:9d} {procstats.rss_mb(gateway.pid):7.1f}", flush=True)
    served = 0
    try:
        while served < options.requests:
            for stream in (False, True):
                samples = await loadgen.run(
                    "127.0.0.1",
                    gateway.port,
                    payloads[stream],
                    stream=stream,
                    concurrency=options.concurrency,
                    requests=options.step // 2,
                )
                served += samples.completed
                if samples.errors:
                    raise SystemExit(f"{samples.errors} errors: {samples.error_kinds}")
            print(f"{served:9d} {procstats.rss_mb(gateway.pid):7.1f}", flush=True)
    finally:
        gateway.stop()
        upstream.stop()
    print(f"load average at the end: {procstats.load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400_000)
    parser.add_argument("--step", type=int, default=25_000)
    parser.add_argument("--concurrency", type=int, default=16)
    gateways.add_headers_option(parser)
    uvloop.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
