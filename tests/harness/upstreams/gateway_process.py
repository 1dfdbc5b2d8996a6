"""The gateway under test as a real process (`runestone gateway ...`) on loopback ports, with
helpers to write its config, reach it with the official OpenAI SDK and read its health port."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import openai
import yaml
from prometheus_client.parser import text_string_to_metric_families

from harness import processes
from harness.upstreams import running
from runestone_gateway import apikeys

T = TypeVar("T")

START_TIMEOUT = 60.0
EVENTUALLY_TIMEOUT = 30.0
RUNESTONE = Path(sys.executable).with_name("runestone")


def eventually(
    check: Callable[[], T | None], *, timeout: float = EVENTUALLY_TIMEOUT, what: str
) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def provider(
    name: str,
    upstream: running.Upstream | None = None,
    *,
    models: list[dict[str, Any]],
    priority: int = 0,
    base_url: str | None = None,
    api_key_file: Path | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One provider entry, CRD-style. `upstream` None with no base_url means the mock."""
    entry: dict[str, Any] = {"name": name, "priority": priority, "models": models, **extra}
    if upstream is None and base_url is None:
        entry["type"] = "mock"
    else:
        entry["type"] = upstream.flavour if upstream is not None else "openai"
        entry["baseURL"] = base_url or (upstream.base_url if upstream else None)
    if api_key_file is not None:
        entry["apiKeyFile"] = str(api_key_file)
    return entry


def model(
    name: str, upstream_model: str | None = None, kinds: list[str] | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "kinds": kinds or ["chat"]}
    if upstream_model:
        entry["upstreamModel"] = upstream_model
    return entry


def pool(name: str, providers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    # Health checks run rarely unless a test asks: they must not interfere with counted requests.
    extra.setdefault("healthCheck", {"intervalSeconds": 3600, "timeoutSeconds": 5})
    return {"name": name, "providers": providers, **extra}


@dataclass
class GatewayProcess:
    process: subprocess.Popen[str]
    port: int
    health_port: int
    api_key: str
    config_path: Path | None
    stderr_path: Path
    stdout_lines: list[str] = field(default_factory=list)
    auth: dict[str, Any] = field(default_factory=dict)
    """The auth section the starter added (the test key's table); kept by `write_config`."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, *, api_key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.base_url, api_key=api_key or self.api_key, max_retries=0, timeout=60
        )

    def async_client(self, *, api_key: str | None = None) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=self.base_url, api_key=api_key or self.api_key, max_retries=0, timeout=60
        )

    def health(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.health_port}{path}", timeout=10)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples called `name` whose labels include `labels` (0 if none)."""
        text = self.health("/metrics").text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total += sample.value
        return total

    def write_config(self, document: dict[str, Any]) -> None:
        """Replace the config file the way a ConfigMap update does: atomically."""
        assert self.config_path is not None
        staging = self.config_path.with_suffix(".staging")
        staging.write_text(yaml.safe_dump({"auth": self.auth, **document}))
        os.replace(staging, self.config_path)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        return processes.stop(self.process, timeout)


class GatewayStarter:
    """Starts gateways for one test and stops them when it ends."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[GatewayProcess] = []

    def key_table(self) -> tuple[str, Path]:
        key = apikeys.generate()
        path = self.workdir / f"keys-{len(self.started)}.yaml"
        path.write_text(yaml.safe_dump({"keys": [{"id": "test", "sha256": apikeys.digest(key)}]}))
        return key, path

    def __call__(
        self,
        document: dict[str, Any] | None,
        *,
        args: tuple[str, ...] = (),
        wait_ready: bool = True,
    ) -> GatewayProcess:
        """Start `runestone gateway` with this config (None: no --config at all)."""
        port, health_port = running.free_port(), running.free_port()
        command = [
            str(RUNESTONE),
            "gateway",
            "--port",
            str(port),
            "--health-port",
            str(health_port),
        ]
        config_path: Path | None = None
        key = ""
        auth: dict[str, Any] = {}
        if document is not None:
            key, table = self.key_table()
            auth = {"keyTableFile": str(table)}
            document = {"auth": auth, **document}
            config_path = self.workdir / f"gateway-{len(self.started)}.yaml"
            config_path.write_text(yaml.safe_dump(document))
            command += ["--config", str(config_path)]
        stderr_path = self.workdir / f"gateway-{len(self.started)}.stderr"
        process = subprocess.Popen(
            [*command, *args],
            stdout=subprocess.PIPE,
            stderr=stderr_path.open("w"),
            text=True,
        )
        gateway = GatewayProcess(
            process, port, health_port, key, config_path, stderr_path, auth=auth
        )
        self.started.append(gateway)
        threading.Thread(target=_collect, args=(process, gateway.stdout_lines), daemon=True).start()

        def printed_key() -> str | None:
            _fail_if_exited(process, stderr_path)
            return next((line for line in gateway.stdout_lines if "API key" in line), None)

        def ready() -> bool:
            _fail_if_exited(process, stderr_path)
            return _ready(gateway)

        if document is None:
            line = eventually(printed_key, timeout=START_TIMEOUT, what="the printed API key")
            gateway.api_key = line.rsplit(" ", 1)[-1].strip()
        if wait_ready:
            eventually(ready, timeout=START_TIMEOUT, what="the gateway to become ready")
        return gateway

    def stop_all(self) -> None:
        for gateway in self.started:
            gateway.stop()
            # Shown by pytest for failing tests only.
            print(f"--- gateway on port {gateway.port} stderr ---\n{gateway.stderr()}")


def _collect(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))


def _ready(gateway: GatewayProcess) -> bool:
    try:
        return gateway.health("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _fail_if_exited(process: subprocess.Popen[str], stderr_path: Path) -> None:
    if process.poll() is not None:
        output = stderr_path.read_text(errors="replace")
        raise AssertionError(f"the gateway exited with {process.returncode}:\n{output}")


def starter(workdir: Path) -> Iterator[GatewayStarter]:
    gateways = GatewayStarter(workdir)
    try:
        yield gateways
    finally:
        gateways.stop_all()
