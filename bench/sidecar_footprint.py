"""The sidecar's footprint at idle: resident memory and CPU of a real `runestone sidecar` process
that probes a healthy target and has nothing new to report, against a real control plane.

    .venv/bin/python bench/sidecar_footprint.py [--seconds 60] [--period 5] [--compare-imports]

Memory is VmRSS (and its anonymous / file-backed parts) from /proc/<pid>/status, sampled every
second; CPU is utime+stime from /proc/<pid>/stat over the window. `--compare-imports` also shows
what the libraries the sidecar deliberately does not load would add to a fresh interpreter.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "devcluster"))

from devcluster.sidecar import benchenv, process

FIELDS = ("VmRSS", "RssAnon", "RssFile", "VmHWM", "Threads")


def status(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in FIELDS:
            values[key] = int(rest.split()[0])
    return values


def cpu_ticks(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the line)


IMPORT_PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS')))
"""

SIDECAR_IMPORTS = ["runestone_sidecar.cli", "runestone_sidecar.runner"]
ALTERNATIVES = {
    "aiohttp (HTTP client and server)": ["aiohttp", "aiohttp.web"],
    "prometheus_client": ["prometheus_client"],
    "grpcio-health-checking (protobuf runtime)": ["grpc_health.v1.health"],
    "kubernetes_asyncio (full API client)": [
        "kubernetes_asyncio.client",
        "kubernetes_asyncio.config",
    ],
}


def import_rss(modules: list[str]) -> int:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, *modules], check=True, capture_output=True, text=True
    )
    return int(out.stdout.strip())


def compare_imports() -> None:
    base = import_rss(SIDECAR_IMPORTS)
    print(f"imports only: the sidecar's modules take a fresh interpreter to {base / 1024:.1f} MB")
    for label, modules in ALTERNATIVES.items():
        extra = import_rss(SIDECAR_IMPORTS + modules) - base
        print(f"  + {label:<40} would add {extra / 1024:5.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--period", type=float, default=5.0, help="the sidecar's probe period")
    parser.add_argument(
        "--kubeconfig-format",
        choices=["yaml", "json"],
        default="yaml",
        help="json skips the YAML parser, as in-cluster configuration does",
    )
    parser.add_argument("--compare-imports", action="store_true")
    options = parser.parse_args()
    with benchenv.bench_env("bench-sidecar-footprint") as env:
        kubeconfig = env.pod.kubeconfig
        if options.kubeconfig_format == "json":
            kubeconfig = kubeconfig.with_suffix(".json")
            kubeconfig.write_text(json.dumps(yaml.safe_load(env.pod.kubeconfig.read_text())))
        sidecar = process.start_sidecar(
            env.pod,
            env.workdir,
            *("--target", "http", "--url", env.target.url, "--period", str(options.period)),
            kubeconfig=kubeconfig,
        )
        try:
            benchenv.wait(
                lambda: (
                    sidecar.metric("runestone_sidecar_condition_in_sync") == 1
                    and sidecar.metric("runestone_sidecar_condition_status") == 1
                ),
                120,
                "the condition to be True and in sync",
            )
            pid = sidecar.popen.pid
            ticks_per_second = os.sysconf("SC_CLK_TCK")
            probes_before = env.target.requests()
            start_ticks, started = cpu_ticks(pid), time.monotonic()
            samples = []
            while time.monotonic() - started < options.seconds:
                samples.append(status(pid))
                time.sleep(1.0)
            elapsed = time.monotonic() - started
            cpu_seconds = (cpu_ticks(pid) - start_ticks) / ticks_per_second
            probes = env.target.requests() - probes_before
            last = status(pid)
        finally:
            sidecar.stop(signal.SIGTERM)
    rss = [s["VmRSS"] for s in samples]
    print(f"command: {benchenv.command_line()}")
    print(f"sidecar: {' '.join(sidecar.command[1:])} ({options.kubeconfig_format} kubeconfig)")
    print(f"window: {elapsed:.1f}s at idle (condition True and in sync), {probes} probes served")
    print(
        f"RSS: {last['VmRSS'] / 1024:.1f} MB at the end (min {min(rss) / 1024:.1f}, "
        f"max {max(rss) / 1024:.1f}); anonymous {last['RssAnon'] / 1024:.1f} MB, "
        f"file-backed {last['RssFile'] / 1024:.1f} MB; peak (VmHWM) {last['VmHWM'] / 1024:.1f} MB;"
        f" {last['Threads']} threads"
    )
    print(
        f"CPU: {cpu_seconds:.2f}s over {elapsed:.1f}s = {100 * cpu_seconds / elapsed:.2f}% "
        f"of one core ({1000 * cpu_seconds / max(probes, 1):.1f} ms per probe period)"
    )
    if options.compare_imports:
        compare_imports()


if __name__ == "__main__":
    main()
