"""Other gateways as targets of bench/gateway_overhead.py, on loopback in front of the same fast
upstream: TensorZero (its Rust gateway, from the PyPI wheel that embeds it) and Portkey's
open-source gateway (Node). What each target serves, and what it does per request in the run
(auth, limits, metrics, access log), is stated here once, for the bench's output and the docs.

Both are installed by the bench itself into the cache (~/.cache/runestone/), never into the
project's venv or the repository: TensorZero into a venv of its own at the pinned version below,
Portkey with `npm ci` from bench/portkey/ (its package.json pins the version and overrides
`@hono/node-server`; the lockfile pins the rest)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import gateways
import procstats

sys.path.insert(0, str(gateways.BENCH.parent / "devcluster"))

from devcluster import npmcache

TENSORZERO_VERSION = "2026.6.0"
TENSORZERO_THREADS = {"tensorzero": 1, "tensorzero2": 2}
"""Target name to the gateway's tokio worker threads (`TOKIO_WORKER_THREADS`): its one process
serves on that many threads, as Runestone does on `--workers` processes."""
TENSORZERO_MODEL = f"tensorzero::model_name::{gateways.MODEL}"
"""TensorZero's OpenAI-compatible endpoint names a configured model with this prefix."""
TENSORZERO_PREFIX = "/openai"
"""...and serves it under this path: /openai/v1/chat/completions."""
PORTKEY_PACKAGE = gateways.BENCH / "portkey"
PORTKEY_VERSION = "1.15.2"
PORTKEY_UPSTREAM_KEY = "sk-upstream-not-checked"
"""Portkey has no keys of its own: the bearer token a client sends is the provider's key, which
it passes on to the upstream (and the fast upstream does not read)."""

ALL_ENDPOINTS = ("chat", "responses", "messages", "responses-native", "messages-native", "search")
SERVED: Mapping[str, tuple[str, ...]] = {
    "tensorzero": ("chat",),
    "portkey": ("chat", "responses-native", "messages-native"),
    "litellm": ("chat",),
    "before": ("chat",),
    "floor": ("chat",),
}
"""The `--endpoints` cells each target is measured on; `direct` and `runestone` serve all."""
NOT_SERVED = {
    ("tensorzero", "*"): "its OpenAI-compatible endpoint (/openai/v1) serves chat completions: "
    "no /v1/responses, no Anthropic /v1/messages",
    ("portkey", "responses"): "it passes /v1/responses on to an OpenAI provider as they are, "
    "never translated to chat completions (measured as responses-native)",
    ("portkey", "messages"): "it answers /v1/messages only from a provider that speaks them "
    "('messages is not supported by openai'; measured as messages-native)",
    ("tensorzero", "search"): "it has no vector stores (no /v1/vector_stores route)",
    ("portkey", "search"): "the bench configures no vector store for it",
    ("litellm", "search"): "the bench configures no vector store for it",
    ("floor", "search"): "a bare proxy has no vector stores",
    ("litellm", "*"): "the bench's LiteLLM config has the chat model only",
    ("before", "*"): "the earlier checkout is compared on chat completions only",
    ("floor", "*"): "the floor proxies are measured on chat completions only",
}

RUNESTONE_KEY_LIMITS = {
    "requestsPerMinute": 1_000_000_000,
    "tokensPerMinute": 1_000_000_000_000,
    "maxConcurrentRequests": 100_000,
}
"""The bench key's limits: every request is counted against all three, as a user's limited key
is, at rates no run reaches, so none is ever refused."""
STATEMENTS = {
    "runestone": "auth on (bearer checked against the SHA-256 key table); limits on "
    "(requests/min, tokens/min and concurrency counted per request, set never to refuse); "
    "metrics on (Prometheus, counted per request); access log on (a JSON line per request)",
    "before": "as runestone, run from the checkout --before names",
    "litellm": "auth on (master key); no limits, metrics callbacks or database configured; "
    "log level ERROR",
    "tensorzero": "auth off (the embedded gateway has no key store without Postgres); no rate "
    "limits; no metrics route; no access log line per request; observability (ClickHouse or "
    "Postgres inference records) off",
    "portkey": "auth off (no keys of its own: the bearer is passed on as the provider's key); "
    "no limits, no metrics route, no access log line per request (errors only); routes each "
    "request by its x-portkey-provider and x-portkey-custom-host headers; one Node process",
    "direct": "the load generator straight to the upstream (the floor)",
    "floor": "a bare proxy with no gateway logic",
}
ENDPOINT_STATEMENTS = {
    ("direct", "search"): "the hybrid GraphQL query the gateway sends (built by its own code), "
    "posted straight to the Weaviate node with the query's vector in hand; cpu is Weaviate's",
    ("runestone", "search"): "POST /v1/vector_stores/{id}/search: embeds the query with the "
    "built-in mock model, reads the store's record, sends that query to the same node; cpu is "
    "the gateway's alone",
}
"""What a target does on an endpoint whose work is not the chat upstream's."""


def family(target: str) -> str:
    """The kind of a target name: `tensorzero2` is a `tensorzero`, `floor-raw` a `floor`."""
    if target in TENSORZERO_THREADS:
        return "tensorzero"
    return "floor" if target.startswith("floor-") else target


def skip_reason(target: str, endpoint: str) -> str | None:
    """Why `target` is not measured on `endpoint`, or None when it is."""
    kind = family(target)
    if kind not in SERVED or endpoint in SERVED[kind]:
        return None
    return NOT_SERVED.get((kind, endpoint)) or NOT_SERVED[(kind, "*")]


def statement(target: str) -> str:
    """What `target` does per request in the run (the line printed beside its figures)."""
    said = STATEMENTS[family(target)]
    if target in TENSORZERO_THREADS:
        said += f"; {TENSORZERO_THREADS[target]} tokio worker thread(s)"
    return said


def endpoint_statement(target: str, endpoint: str) -> str | None:
    """What `target` does per request on `endpoint`, where that is not its line's chat path."""
    return ENDPOINT_STATEMENTS.get((family(target), endpoint))


def tensorzero_config(upstream_port: int) -> str:
    """The gateway's TOML: one model on the upstream as an OpenAI-compatible provider, with no
    key to send, and observability explicitly off (there is no database to write to)."""
    model = f'models."{gateways.MODEL}"'
    return "\n".join(
        [
            "[gateway.observability]",
            "enabled = false",
            "",
            f"[{model}]",
            'routing = ["upstream"]',
            "",
            f"[{model}.providers.upstream]",
            'type = "openai"',
            f'model_name = "{gateways.MODEL}"',
            f'api_base = "http://127.0.0.1:{upstream_port}/v1/"',
            'api_key_location = "none"',
            "",
        ]
    )


def portkey_headers(upstream_port: int) -> dict[str, tuple[str, ...]]:
    """Per API the loadgen drives, the headers that route a request to the upstream: an OpenAI
    provider for chat completions and Responses, an Anthropic one for Messages, each at the
    upstream's address as its custom host (loopback is among Portkey's trusted hosts)."""
    host = f"x-portkey-custom-host: http://127.0.0.1:{upstream_port}/v1"
    return {
        "chat": ("x-portkey-provider: openai", host),
        "responses": ("x-portkey-provider: openai", host),
        "messages": ("x-portkey-provider: anthropic", host),
    }


def tensorzero_venv() -> Path:
    requirement = f"tensorzero=={TENSORZERO_VERSION}"
    return gateways.cached_venv(f"tensorzero-{TENSORZERO_VERSION}", [requirement])


def tensorzero(workdir: Path, upstream_port: int, name: str) -> gateways.Target:
    """The gateway started in a Python process of its own by bench/tensorzero_gateway.py, on
    the threads its target name asks for; the port is the one it reports once it serves."""
    threads = TENSORZERO_THREADS[name]
    python = tensorzero_venv() / "bin" / "python"
    config = workdir / f"{name}.toml"
    config.write_text(tensorzero_config(upstream_port))
    url_file = workdir / f"{name}.url"
    command = [str(python), str(gateways.BENCH / "tensorzero_gateway.py"), str(config)]
    command.append(str(url_file))
    env = {"TOKIO_WORKER_THREADS": str(threads), "RUST_LOG": "warn"}
    process = gateways.spawn(command, workdir / f"{name}.log", env)
    target = gateways.Target(name, 0, None, process, threads)
    with _stopped_on_failure(target):
        target.port = _reported_port(url_file, target)
    target.prefix = TENSORZERO_PREFIX
    target.model_prefix = TENSORZERO_MODEL.removesuffix(gateways.MODEL)
    return target


def _reported_port(url_file: Path, target: gateways.Target) -> int:
    deadline = time.monotonic() + gateways.START_TIMEOUT
    while time.monotonic() < deadline:
        if not target.alive():
            raise SystemExit(f"{target.name} exited before it served (see its log)")
        if url_file.exists() and url_file.read_text().endswith("\n"):
            return parse_port(url_file.read_text().strip())
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {target.name} to serve")


def parse_port(base_url: str) -> int:
    """The port of the embedded gateway's base URL (`http://127.0.0.1:PORT/openai/v1`)."""
    authority = base_url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = authority.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        raise SystemExit(f"TensorZero reported an unexpected address: {base_url!r}")
    return int(port)


def portkey(workdir: Path, upstream_port: int) -> gateways.Target:
    """Portkey's Node server (headless: no log console) with the pinned packages."""
    modules = npmcache.ensure(PORTKEY_PACKAGE)
    port = procstats.free_port()
    server = modules / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    command = [npmcache.node(), str(server), f"--port={port}", "--headless"]
    process = gateways.spawn(command, workdir / "portkey.log")
    target = gateways.Target("portkey", port, PORTKEY_UPSTREAM_KEY, process, 1)
    target.headers = portkey_headers(upstream_port)
    with _stopped_on_failure(target):
        procstats.wait_http(f"http://127.0.0.1:{port}/", gateways.START_TIMEOUT, target.alive)
    return target


@contextlib.contextmanager
def _stopped_on_failure(target: gateways.Target) -> Iterator[None]:
    """A target that does not come up is stopped, not left serving after the bench exits."""
    try:
        yield
    except BaseException:
        target.stop()
        raise
