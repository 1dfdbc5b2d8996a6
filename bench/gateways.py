"""The targets of bench/gateway_overhead.py as processes on loopback: the fast upstream, the
Runestone gateway and LiteLLM proxy, each with auth on and one model pointing at the upstream
(other gateways are in bench/peers.py).

LiteLLM is installed from PyPI into its own venv under ~/.cache/runestone/bench/ (never into the
project's venv, never into the repo), at the pinned version below."""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

import procstats
from runestone_gateway import apikeys

BENCH = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("RUNESTONE_CACHE", Path.home() / ".cache" / "runestone")) / "bench"
LITELLM_VERSION = "1.104.0"
"""Newer releases need a certifi newer than the package index here serves; 1.107.0 was
withdrawn after a compromise, so the pin stays on a release that installs and is not that one."""
LITELLM_EXTRAS = ["httptools==0.9.0"]
"""uvicorn picks httptools when it is installed; without it LiteLLM would be measured on the
pure-Python h11 parser. The same parser as Runestone's, so the comparison is of the gateways."""
MODEL = "bench-model"
RESPONSES_MODEL = "bench-responses"
"""Served by the same upstream as an OpenAI provider that speaks the Responses API (`api:
responses`): `/v1/responses` requests go through as they are."""
MESSAGES_MODEL = "bench-claude"
"""Served by the same upstream as an Anthropic provider: `/v1/messages` go through as they are."""
START_TIMEOUT = 180.0


def add_headers_option(parser: argparse.ArgumentParser) -> None:
    """`--real-headers`: requests with the official SDK's headers (loadgen.SDK_HEADERS) and
    answers with a hosted provider's (fast_upstream.PROVIDER_HEADERS)."""
    parser.add_argument(
        "--real-headers",
        action="store_true",
        help="the SDK's request and a provider's answer headers",
    )


def headers_label(real_headers: bool) -> str:
    return "SDK and provider" if real_headers else "framing and key only"


@dataclass
class Target:
    name: str
    port: int
    api_key: str | None
    process: subprocess.Popen[bytes] | None = None
    workers: int = 0
    prefix: str = ""
    """What comes before an API's own path (`/v1/...`) on this target."""
    model_prefix: str = ""
    """What comes before the model's name in a request to this target."""
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Header lines a request carries besides its key, per API (loadgen's endpoint names)."""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is None or self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)

_target_cores: set[int] | None = None
"""Where targets run, once `pin` has been called; None: anywhere, like everything else."""


def pin() -> tuple[set[int], set[int]]:
    """Give the targets the machine's last core and keep this process (the load generator) and
    the upstream off it: a gateway then has a core of its own, as in a pod, instead of sharing
    it with its clients and its upstream, which a woken one would preempt. Only targets
    spawned after the call are pinned. Returns (the harness's cores, the targets' core)."""
    global _target_cores
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("pinning needs two cores: one for the targets, one for the rest")
    harness, targets = set(cores[:-1]), {cores[-1]}
    os.sched_setaffinity(0, harness)
    _target_cores = targets
    return harness, targets


def spawn(
    command: list[str], log: Path, env: dict[str, str] | None = None, harness: bool = False
) -> subprocess.Popen[bytes]:
    """Start a target (on the targets' core once `pin` was called), or with `harness` a part of
    the bench itself (on the bench's cores)."""
    cores = None if harness else _target_cores

    def prepare() -> None:
        # In the child before it runs anything. It is sent SIGTERM should the bench die without
        # stopping it (killed, say), so no target is left holding a port and a core; the signal
        # follows the thread that started the child, and the benches start them from their
        # main thread, which lives as long as they do. With `pin`, every thread and process it
        # starts (workers, a runtime's threads) inherits the core.
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if cores is not None:
            os.sched_setaffinity(0, cores)

    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            preexec_fn=prepare,
        )


def upstream(
    workdir: Path, latency_ms: float, chunks: int, provider_headers: bool = False
) -> Target:
    port = procstats.free_port()
    command = [sys.executable, str(BENCH / "fast_upstream.py"), "--port", str(port)]
    command += ["--latency-ms", str(latency_ms), "--chunks", str(chunks)]
    if provider_headers:
        command.append("--provider-headers")
    process = spawn(command, workdir / "upstream.log", harness=True)
    target = Target("direct", port, None, process)
    procstats.wait_http(f"http://127.0.0.1:{port}/v1/models", START_TIMEOUT, target.alive)
    return target


def floor_proxy(workdir: Path, upstream_port: int, kind: str) -> Target:
    """bench/floor_proxy.py: a bare Python hop (`raw`) or a bare ASGI app on uvicorn (`asgi`)."""
    port = procstats.free_port()
    command = [sys.executable, str(BENCH / "floor_proxy.py"), "--kind", kind]
    command += ["--port", str(port), "--upstream-port", str(upstream_port)]
    target = Target(f"floor-{kind}", port, None, spawn(command, workdir / f"floor-{kind}.log"), 1)
    procstats.wait_http(f"http://127.0.0.1:{port}/v1/models", START_TIMEOUT, target.alive)
    return target


def runestone(
    workdir: Path,
    upstream_port: int,
    workers: int,
    *,
    name: str = "runestone",
    keys: list[dict[str, object]] | None = None,
    store: dict[str, str] | None = None,
    source: Path | None = None,
    probe: Path | None = None,
    own_apis: bool = False,
    limits: dict[str, int] | None = None,
    vector_stores: dict[str, str] | None = None,
    providers: Sequence[dict[str, object]] = (),
) -> Target:
    """The gateway with one key, or with the key-table entries `keys` (then the target's
    api_key is None) and the rate-limit store `store`. With `source` (another checkout
    of this repository, e.g. an earlier commit's worktree) its code is run instead of this one's,
    through PYTHONPATH, which comes before the venv's editable paths. With `probe` it runs under
    bench/path_probe.py, which writes its timings to that file when the gateway exits. With
    `own_apis` the upstream is also a Responses-speaking and an Anthropic provider
    (RESPONSES_MODEL, MESSAGES_MODEL), for the endpoints' pass-through paths. `limits` are the
    one key's limits (the key table's camelCase names); without them it is unlimited.
    `vector_stores` is the config's section of that name (bench/vector_search.py) and
    `providers` more providers of the pool (e.g. the one serving its embedding model)."""
    key = apikeys.generate() if keys is None else None
    own = {"id": "bench", "sha256": apikeys.digest(key) if key else "", "limits": limits or {}}
    entries = keys if key is None else [own]
    table = workdir / f"{name}-keys.yaml"
    table.write_text(yaml.safe_dump({"keys": entries}))
    config = {
        "auth": {"keyTableFile": str(table)},
        **({"limits": {"store": store}} if store else {}),
        "providerPools": [
            {
                "name": "bench",
                "healthCheck": {"intervalSeconds": 3600, "timeoutSeconds": 5},
                "providers": [
                    {
                        "name": "upstream",
                        "type": "openai",
                        "baseURL": f"http://127.0.0.1:{upstream_port}/v1",
                        "models": [{"name": MODEL, "kinds": ["chat"]}],
                    },
                    *(_own_apis(upstream_port) if own_apis else []),
                    *providers,
                ],
            }
        ],
        **({"vectorStores": vector_stores} if vector_stores else {}),
    }
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    port, health_port = procstats.free_port(), procstats.free_port()
    command = [str(Path(sys.executable).with_name("runestone")), "gateway", "--config", str(path)]
    command += ["--port", str(port), "--health-port", str(health_port)]
    command += ["--workers", str(workers), "--log-level", "warning"]
    env: dict[str, str] = {}
    if source is not None:
        packages = [str(source / part) for part in ("cli", "gateway", "operator", "sidecar")]
        env["PYTHONPATH"] = os.pathsep.join(packages)
    if probe is not None:
        command[0:1] = [sys.executable, str(BENCH / "path_probe.py")]
        env["RUNESTONE_PATH_PROBE_OUT"] = str(probe)
    target = Target(name, port, key, spawn(command, workdir / f"{name}.log", env), workers)
    procstats.wait_http(f"http://127.0.0.1:{health_port}/readyz", START_TIMEOUT, target.alive)
    return target


def _own_apis(upstream_port: int) -> list[dict[str, object]]:
    return [
        {
            "name": "responses",
            "type": "openai",
            "api": "responses",
            "baseURL": f"http://127.0.0.1:{upstream_port}/v1",
            "models": [{"name": RESPONSES_MODEL, "upstreamModel": MODEL}],
        },
        {
            "name": "anthropic",
            "type": "anthropic",
            "baseURL": f"http://127.0.0.1:{upstream_port}",
            "models": [{"name": MESSAGES_MODEL, "upstreamModel": MODEL}],
        },
    ]


def litellm_venv() -> Path:
    """The venv holding the pinned LiteLLM proxy, created (or completed) on first use."""
    return cached_venv(
        f"litellm-{LITELLM_VERSION}", [f"litellm[proxy]=={LITELLM_VERSION}", *LITELLM_EXTRAS]
    )


def cached_venv(name: str, requirements: list[str]) -> Path:
    """A venv of its own under the cache holding exactly `requirements`, installed on first use
    (or when the requirements change)."""
    venv = CACHE / name
    stamp = venv / "runestone-bench-requirements.txt"
    if not stamp.exists() or stamp.read_text().split() != requirements:
        print(f"installing {' '.join(requirements)} into {venv}", file=sys.stderr)
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, *requirements], check=True)
        stamp.write_text("\n".join(requirements) + "\n")
    return venv


def litellm(workdir: Path, upstream_port: int, workers: int) -> Target:
    venv = litellm_venv()
    key = "sk-" + apikeys.generate().removeprefix(apikeys.PREFIX)
    config = {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": f"http://127.0.0.1:{upstream_port}/v1",
                    "api_key": "sk-upstream-not-checked",
                },
            }
        ],
        "litellm_settings": {"set_verbose": False, "telemetry": False},
        "general_settings": {"master_key": key},
    }
    path = workdir / "litellm.yaml"
    path.write_text(yaml.safe_dump(config))
    port = procstats.free_port()
    command = [str(venv / "bin" / "litellm"), "--config", str(path), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--num_workers", str(workers)]
    env = {
        "LITELLM_LOG": "ERROR",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price table at start
        "NO_DOCS": "True",
    }
    target = Target("litellm", port, key, spawn(command, workdir / "litellm.log", env), workers)
    procstats.wait_http(f"http://127.0.0.1:{port}/health/liveliness", START_TIMEOUT, target.alive)
    return target
