"""`--workers N`: several processes share the API and health ports, and /metrics from any of them
reports the requests all of them served."""

from __future__ import annotations

import signal
from collections.abc import Callable

import openai

from harness.upstreams import gateway_process, running
from harness.upstreams.gateway_process import eventually, model, pool, provider

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
        lambda: gateway.metric("runestone_gateway_responses_total", status_code="200") == REQUESTS,
        what="metrics summed over the workers",
    )
    gateway.process.send_signal(signal.SIGTERM)
    assert gateway.process.wait(60) == 0
