"""The JSON access log on stdout: one line per request with the request id (also returned as
x-request-id, the client's own when it is sane), key id, model, provider, status, tokens and
timings; never a key, and no prompt text unless logPrompts is on."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import httpx
import openai

from fixtures.upstreams import gateway_process, keys, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

Starter = gateway_process.GatewayStarter
SECRET_PROMPT = "the password is pineapple"
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "user", "content": SECRET_PROMPT}
]
LOGGED = keys.key("logged", tenant="ns/main")


def start(
    starter: Starter,
    upstream: running.Upstream,
    table: Path,
    *,
    args: tuple[str, ...] = (),
    stdout: int | None = None,
    **server: Any,
) -> gateway_process.GatewayProcess:
    return starter(
        {
            "auth": keys.write_table(table, LOGGED),
            "server": server,
            "providerPools": [pool("p", [provider("up", upstream, models=[model("m")])])],
        },
        args=args,
        stdout=stdout,
    )


def access_lines(gateway: gateway_process.GatewayProcess, count: int) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        lines = [json.loads(line) for line in gateway.stdout_lines if line.startswith("{")]
        return lines if len(lines) >= count else None

    return eventually(enough, what=f"{count} access-log lines")


def test_one_json_line_per_request_without_prompts_or_keys(
    start_gateway: Starter, openai_upstream: running.Upstream, tmp_path: Path
) -> None:
    gateway = start(start_gateway, openai_upstream, tmp_path / "keys.yaml")
    client = gateway.client(api_key=LOGGED.plaintext)
    whole = client.chat.completions.with_raw_response.create(
        model="m", messages=ASK, extra_headers={"x-request-id": "trace-42"}
    )
    assert whole.headers["x-request-id"] == "trace-42"
    streamed = client.chat.completions.with_raw_response.create(
        model="m", messages=ASK, stream=True, extra_headers={"x-request-id": LOGGED.plaintext}
    )
    assert list(streamed.parse())
    generated = streamed.headers["x-request-id"]
    assert generated.startswith("req_"), "a key-like request id is replaced, never echoed"
    refused = httpx.post(
        gateway.base_url + "/chat/completions",
        headers={"authorization": "Bearer rsk_" + "B" * 43},
        json={"model": "m", "messages": ASK},
    )
    assert refused.status_code == 401
    assert refused.headers["x-request-id"].startswith("req_")

    lines = access_lines(gateway, 3)
    assert len(lines) == 3
    first, second, third = lines
    assert first["request_id"] == "trace-42"
    assert second["request_id"] == generated
    assert third["request_id"] == refused.headers["x-request-id"]
    for line in (first, second):
        assert line["key_id"] == "logged"
        assert line["tenant"] == "ns/main"
        assert (line["model"], line["provider"], line["status"]) == ("m", "up", 200)
        assert (line["input_tokens"], line["output_tokens"]) == (11, 5)
        assert line["tokens_estimated"] is False
        assert line["duration_ms"] > 0
        assert (line["method"], line["path"]) == ("POST", "/v1/chat/completions")
    assert (first["stream"], second["stream"]) == (False, True)
    assert second["ttft_ms"] > 0
    assert (third["status"], third["key_id"], third["error"]) == (401, None, "invalid_api_key")

    everything = "\n".join(gateway.stdout_lines) + gateway.stderr()
    assert "pineapple" not in everything
    assert LOGGED.plaintext not in everything
    assert "rsk_" + "B" * 43 not in everything


def test_prompts_are_logged_when_enabled(
    start_gateway: Starter, openai_upstream: running.Upstream, tmp_path: Path
) -> None:
    gateway = start(start_gateway, openai_upstream, tmp_path / "keys.yaml", logPrompts=True)
    gateway.client(api_key=LOGGED.plaintext).chat.completions.create(model="m", messages=ASK)
    (line,) = access_lines(gateway, 1)
    assert SECRET_PROMPT in line["prompt"]
    assert LOGGED.plaintext not in line["prompt"]


LEAKED = [
    LOGGED.plaintext,
    "sk-proj-" + "Ab3dE" * 10,
    "sk-ant-api03-" + "xY7_z" * 12,
    "ghp_" + "Q1w2E3r4T5" * 4,  # any long bearer-like token
]


def test_keys_pasted_into_the_path_or_query_never_reach_the_logs(
    start_gateway: Starter, openai_upstream: running.Upstream, tmp_path: Path
) -> None:
    gateway = start(start_gateway, openai_upstream, tmp_path / "keys.yaml")
    headers = {"authorization": f"Bearer {LOGGED.plaintext}"}
    targets = [
        *(f"/chat/completions/{key}" for key in LEAKED),
        *(f"/models/{key}" for key in LEAKED),
        *(f"/chat/completions?key={key}&x=1" for key in LEAKED),
        *(f"/{key}/chat/completions" for key in LEAKED),
    ]
    for target in targets:
        answer = httpx.post(gateway.base_url + target, headers=headers, json={"model": "m"})
        assert answer.status_code in (200, 400, 404, 405)
    lines = access_lines(gateway, len(targets))
    assert any("[redacted]" in line["path"] for line in lines)
    assert {line["path"] for line in lines} >= {
        "/v1/chat/completions/[redacted]",
        "/v1/models/[redacted]",
        "/v1/[redacted]/chat/completions",
    }

    everything = "\n".join(gateway.stdout_lines) + gateway.stderr()
    for key in LEAKED:
        for part in (key, key[-20:]):
            assert part not in everything, part


def test_a_stdout_reader_that_stops_holds_up_no_request_and_loses_no_line(
    start_gateway: Starter, openai_upstream: running.Upstream, tmp_path: Path
) -> None:
    """Two workers share a stdout pipe nobody reads while 600 requests are answered (some
    270 kB of lines, four times what the pipe holds); once it is read, every line arrives,
    whole."""
    read_end, write_end = os.pipe()
    try:
        gateway = start(
            start_gateway,
            openai_upstream,
            tmp_path / "keys.yaml",
            args=("--workers", "2"),
            stdout=write_end,
        )
    finally:
        os.close(write_end)  # the gateway holds its own
    client = gateway.client(api_key=LOGGED.plaintext)
    client.timeout = 10.0
    count = 600
    for index in range(count):
        client.chat.completions.create(
            model="m", messages=ASK, extra_headers={"x-request-id": f"paused-{index}"}
        )

    received = bytearray()

    def drain() -> None:
        while chunk := os.read(read_end, 65536):
            received.extend(chunk)

    threading.Thread(target=drain, daemon=True).start()

    def logged() -> list[str] | None:
        lines = [line for line in bytes(received).decode().splitlines() if '"paused-' in line]
        return lines if len(lines) >= count else None

    lines = eventually(logged, what=f"{count} access-log lines")
    request_ids = [json.loads(line)["request_id"] for line in lines]
    assert sorted(request_ids) == sorted(f"paused-{index}" for index in range(count))
    gateway.stop()
    os.close(read_end)
