"""The health port's model view (`GET /models`) against a real gateway and the OpenAI stand-in:
counts and success rate follow real requests, a failing upstream shows its breaker open and its
success rate fall, a failed health check shows with its time, a slow stream is in flight while
it is relayed, and nothing in the view carries a key or a provider credential."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from fixtures.upstreams import control, gateway_process, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
THRESHOLD = 3
BREAKER = {"failureThreshold": THRESHOLD, "openSeconds": 600, "halfOpenRequests": 1}


def health_of(gateway: gateway_process.GatewayProcess, name: str) -> dict[str, Any]:
    response = gateway.health(f"/models/{name}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    entry: dict[str, Any] = response.json()
    return entry


def health_when(
    gateway: gateway_process.GatewayProcess, name: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The model's entry once `check` holds for it."""

    def passing() -> dict[str, Any] | None:
        entry = health_of(gateway, name)
        return entry if check(entry) else None

    return eventually(passing, what=f"the view of {name!r} to pass {check.__name__}")


def route_of(entry: dict[str, Any], provider_name: str) -> dict[str, Any]:
    return next(target for target in entry["targets"] if target["provider"] == provider_name)


def test_counts_and_latency_follow_real_requests(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    models = [model("m", "upstream-m"), model("e", kinds=["embedding"])]
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", openai_upstream, models=models)])]}
    )
    assert health_of(gateway, "m")["requests"] == 0
    client = gateway.client()
    for _ in range(3):
        client.chat.completions.create(model="m", messages=ASK)
    list(client.chat.completions.create(model="m", messages=ASK, stream=True))
    client.embeddings.create(model="e", input="hello")

    view = gateway.health("/models").json()
    assert set(view) == {"generation", "pid", "time", "windowSeconds", "models"}
    assert view["generation"] == 1
    assert [entry["model"] for entry in view["models"]] == ["e", "m"]
    chat = health_of(gateway, "m")
    assert (chat["requests"], chat["failures"], chat["successRate"]) == (4, 0, 1.0)
    assert chat["inFlight"] == 0
    assert chat["available"] is True
    assert 0 < chat["latencyMs"]["p50"] <= chat["latencyMs"]["p99"] < 10_000
    up = route_of(chat, "up")
    assert (up["upstreamModel"], up["tier"], up["weight"], up["type"]) == (
        "upstream-m",
        0,
        100,
        "openai",
    )
    assert up["circuit"]["state"] == "closed"
    assert up["requests"] == 4
    assert health_of(gateway, "e")["requests"] == 1

    missing = gateway.health("/models/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"
    # The API's own model list keeps OpenAI's shape.
    listed = client.models.list()
    assert sorted(entry.id for entry in listed.data) == ["e", "m"]
    assert all(entry.object == "model" for entry in listed.data)


def test_a_failing_upstream_shows_its_breaker_open_and_its_success_rate_fall(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    flaky, backup = start_upstream("openai"), start_upstream("openai")
    gateway = start_gateway(gateway_process.flaky_and_backup(flaky, backup, BREAKER))
    client = gateway.client()
    client.chat.completions.create(model="m", messages=ASK)
    assert route_of(health_of(gateway, "m"), "flaky")["successRate"] == 1.0

    flaky.behaviour.status = 500
    for _ in range(THRESHOLD):
        client.chat.completions.create(model="m", messages=ASK)  # answered by the backup
    entry = health_of(gateway, "m")
    failing = route_of(entry, "flaky")
    assert failing["circuit"]["state"] == "open"
    assert 0 < failing["circuit"]["coolDownLeftSeconds"] <= 600
    assert failing["available"] is False
    assert (failing["requests"], failing["failures"]) == (1 + THRESHOLD, THRESHOLD)
    assert failing["successRate"] == 0.25
    assert route_of(entry, "backup")["successRate"] == 1.0
    assert route_of(entry, "backup")["requests"] == THRESHOLD
    # The model as a whole: every attempt at either provider.
    assert (entry["requests"], entry["failures"]) == (1 + 2 * THRESHOLD, THRESHOLD)
    assert entry["available"] is True


def test_a_failed_health_check_shows_with_its_time(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    checks = {"intervalSeconds": 0.2, "timeoutSeconds": 5}
    gateway = start_gateway(
        {
            "providerPools": [
                pool(
                    "p",
                    [provider("sick", openai_upstream, models=[model("m")])],
                    healthCheck=checks,
                )
            ]
        }
    )
    eventually(
        lambda: route_of(health_of(gateway, "m"), "sick")["healthCheck"]["result"] == "ok",
        what="the first health check",
    )
    openai_upstream.behaviour.models_status = 503

    def check_failed(entry: dict[str, Any]) -> bool:
        return not route_of(entry, "sick")["healthCheck"]["healthy"]

    failed = route_of(health_when(gateway, "m", check_failed), "sick")["healthCheck"]
    assert failed["result"] == "failed: unreachable, or a server error"
    assert failed["checkedAt"].endswith("Z")
    assert 0 <= failed["ageSeconds"] < 10
    entry = health_of(gateway, "m")
    assert entry["available"] is False
    assert route_of(entry, "sick")["available"] is False
    assert route_of(entry, "sick")["circuit"]["state"] == "closed", "no request has failed"

    openai_upstream.behaviour.models_status = 200
    eventually(
        lambda: route_of(health_of(gateway, "m"), "sick")["healthCheck"]["healthy"],
        what="the recovered health check in the view",
    )


def test_a_slow_stream_is_in_flight_until_it_ends(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    gate = control.Gate()
    openai_upstream.behaviour.hold_after_first = gate
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])]}
    )
    received: list[str] = []

    def read_stream() -> None:
        for chunk in gateway.client().chat.completions.create(model="m", messages=ASK, stream=True):
            received.extend(choice.delta.content or "" for choice in chunk.choices)

    reader = threading.Thread(target=read_stream)
    reader.start()
    try:
        assert openai_upstream.record.first_chunk_sent.wait(30)
        # The first event has been relayed: the attempt succeeded, and the stream goes on.

        def one_in_flight(entry: dict[str, Any]) -> bool:
            return bool(entry["inFlight"] == 1)

        entry = health_when(gateway, "m", one_in_flight)
        assert route_of(entry, "up")["inFlight"] == 1
        assert entry["requests"] == 1
        time.sleep(0.3)
        assert health_of(gateway, "m")["inFlight"] == 1, "still in flight while held"
    finally:
        gate.open()
        reader.join(30)
    assert "".join(received) == openai_upstream.behaviour.text
    entry = health_of(gateway, "m")
    assert (entry["inFlight"], entry["requests"], entry["failures"]) == (0, 1, 0)


def test_a_stream_that_breaks_after_its_first_event_counts_as_a_failure(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    openai_upstream.behaviour.break_after_first = True
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])]}
    )
    with pytest.raises(openai.APIError):
        list(gateway.client().chat.completions.create(model="m", messages=ASK, stream=True))
    entry = health_of(gateway, "m")
    assert (entry["requests"], entry["failures"], entry["inFlight"]) == (1, 1, 0)
    assert entry["successRate"] == 0.0


def test_the_view_carries_no_key_and_no_credential(
    openai_upstream: running.Upstream, start_gateway: Starter, tmp_path: Path
) -> None:
    credential = "sk-upstream-" + "7" * 40
    key_file = tmp_path / "upstream-key"
    key_file.write_text(credential)
    gateway = start_gateway(
        {
            "providerPools": [
                pool(
                    "p",
                    [provider("up", openai_upstream, models=[model("m")], api_key_file=key_file)],
                )
            ]
        }
    )
    gateway.client().chat.completions.create(model="m", messages=ASK)
    sent = openai_upstream.record.posts()[0].headers["authorization"]
    assert sent == f"Bearer {credential}", "the upstream got the credential"
    text = gateway.health("/models").text + gateway.health("/models/m").text
    assert '"requests": 1' in text
    for secret in (gateway.api_key, credential, str(key_file), str(openai_upstream.port)):
        assert secret not in text
