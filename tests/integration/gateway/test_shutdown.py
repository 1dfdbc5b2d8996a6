"""Graceful shutdown: on SIGTERM readiness turns false and in-flight streams may finish within
the configured deadline; what is still running after it is cut, and the process exits cleanly."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from fixtures.upstreams import control, gateway_process, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
EXIT_TIMEOUT = 60


def config(upstream: running.Upstream, grace: float) -> dict[str, Any]:
    return {
        "server": {"gracefulShutdownSeconds": grace},
        "providerPools": [pool("p", [provider("up", upstream, models=[model("m")])])],
    }


def test_in_flight_stream_finishes_after_sigterm(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    gate = control.Gate()
    openai_upstream.behaviour.hold_after_first = gate
    gateway = start_gateway(config(openai_upstream, grace=120))
    stream = iter(gateway.client().chat.completions.create(model="m", messages=ASK, stream=True))
    next(stream)

    gateway.process.send_signal(signal.SIGTERM)
    eventually(lambda: gateway.health("/readyz").status_code == 503, what="readiness to turn false")

    def refuses_new_connections() -> bool:
        try:
            httpx.get(gateway.base_url + "/models", timeout=5)
        except httpx.ConnectError:
            return True
        return False

    eventually(refuses_new_connections, what="the API port to stop accepting")
    assert gateway.process.poll() is None, "the process waits for the stream"

    gate.open()
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == openai_upstream.behaviour.text
    assert gateway.process.wait(EXIT_TIMEOUT) == 0
    assert not openai_upstream.record.disconnected.is_set()


def test_streams_past_the_deadline_are_cut(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    openai_upstream.behaviour.hold_after_first = control.Gate()  # never opens
    gateway = start_gateway(config(openai_upstream, grace=1))
    stream = iter(gateway.client().chat.completions.create(model="m", messages=ASK, stream=True))
    next(stream)
    gateway.process.send_signal(signal.SIGTERM)
    assert gateway.process.wait(EXIT_TIMEOUT) == 0
    assert openai_upstream.record.disconnected.wait(EXIT_TIMEOUT), (
        "the upstream request was cancelled"
    )
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        list(stream)
