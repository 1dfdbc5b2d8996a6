"""`--workers N`: several processes share the API and health ports, and /metrics from any of them
reports the requests all of them served."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import openai

from fixtures.upstreams import gateway_process, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
REQUESTS = 20


def test_workers_share_ports_and_metrics(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])]},
        args=("--workers", "2"),
    )
    for _ in range(REQUESTS):
        # A new client per request: new connections spread over the workers.
        with gateway.client() as client:
            client.chat.completions.create(model="m", messages=ASK)
    assert len(openai_upstream.record.posts()) == REQUESTS
    # Each worker counts itself; the sum proves one scrape reads every worker's values.
    eventually(
        lambda: gateway.metric("runestone_gateway_workers") == 2, what="both workers in the metrics"
    )
    eventually(
        lambda: gateway.metric("runestone_gateway_requests_total", status_code="200") == REQUESTS,
        what="metrics summed over the workers",
    )
    gateway.process.send_signal(signal.SIGTERM)
    assert gateway.process.wait(60) == 0


def worker_pids(gateway: gateway_process.GatewayProcess) -> list[int]:
    pid = gateway.process.pid
    workers = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue  # a killed worker reaped since the listing
        if b"spawn_main" in command:
            workers.append(int(child))
    return workers


def test_a_dead_worker_is_replaced(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])]},
        args=("--workers", "2"),
    )
    eventually(lambda: len(worker_pids(gateway)) == 2, what="two workers")
    victim = worker_pids(gateway)[0]
    os.kill(victim, signal.SIGKILL)
    eventually(
        lambda: len(pids := worker_pids(gateway)) == 2 and victim not in pids,
        what="the killed worker to be replaced",
    )
    eventually(lambda: gateway.metric("runestone_gateway_workers") == 2, what="two live workers")
    for _ in range(5):
        with gateway.client() as client:
            client.chat.completions.create(model="m", messages=ASK)
