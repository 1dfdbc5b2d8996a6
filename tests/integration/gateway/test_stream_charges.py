"""A stream is charged for what was relayed whenever no usage arrives: a client that leaves
after some events, an upstream that omits usage. The prompt's estimate is charged for input and
the relayed text's estimate for output, to the key's budget and to its tokens-per-minute limit
alike; the access log and the metrics say the figures were estimated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fixtures.upstreams import anthropic_server, control, gateway_process, keys, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

WORDS = 200
LEFT_AFTER = 30
TPM = 600
PROMPT = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
PROMPT_ESTIMATE = 4  # "hi": one token, plus three for the message
USD_PER_TOKEN = 0.001  # $1000 per million tokens, in and out
CUT = keys.key("cut", limits={"tokensPerMinute": TPM}, budget={"usd": "100", "period": "total"})
SILENT = keys.key("silent", budget={"usd": "100", "period": "total"})
PARTIAL = keys.key("partial", budget={"usd": "100", "period": "total"})
RESPONSES = keys.key("responses", budget={"usd": "100", "period": "total"})
MESSAGES = keys.key("messages", budget={"usd": "100", "period": "total"})
ESTIMATED = "runestone_gateway_estimated_tokens_total"


@pytest.fixture(scope="module")
def anthropic_upstream() -> Iterator[running.Upstream]:
    with running.upstream("anthropic") as upstream:
        yield upstream


def priced(name: str) -> dict[str, Any]:
    return {
        **model(name),
        "price": {"inputPerMillionTokens": "1000", "outputPerMillionTokens": "1000"},
    }


@pytest.fixture(scope="module")
def gateway(
    module_upstream: running.Upstream,
    anthropic_upstream: running.Upstream,
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> gateway_process.GatewayProcess:
    table = tmp_path_factory.mktemp("keys") / "keys.yaml"
    return module_gateways(
        {
            "auth": keys.write_table(table, CUT, SILENT, PARTIAL, RESPONSES, MESSAGES),
            "providerPools": [
                pool("p", [provider("up", module_upstream, models=[priced("m")])]),
                pool("a", [provider("claude", anthropic_upstream, models=[priced("c")])]),
            ],
        }
    )


@pytest.fixture
def upstream(
    module_upstream: running.Upstream, anthropic_upstream: running.Upstream
) -> Iterator[running.Upstream]:
    for stand_in in (module_upstream, anthropic_upstream):
        # Words of three characters and a space: four characters, a token, an event.
        stand_in.behaviour.text = " ".join(f"{index:03d}" for index in range(WORDS))
        stand_in.behaviour.chunk_delay_seconds = 0.05  # ten seconds for a whole answer
    yield module_upstream
    for stand_in in (module_upstream, anthropic_upstream):
        stand_in.behaviour.text = control.Behaviour.text
        stand_in.behaviour.chunk_delay_seconds = 0.0
        stand_in.behaviour.stream_usage = True


def leave_after(
    gateway: gateway_process.GatewayProcess,
    key: keys.Key,
    events: int,
    model_name: str,
    *,
    path: str = "/chat/completions",
    body: dict[str, Any] = PROMPT,
    counted: str = "data: {",
) -> None:
    """Stream an answer and leave once `events` data lines holding `counted` have arrived."""
    headers = {"authorization": f"Bearer {key.plaintext}"}
    seen = 0
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST", gateway.base_url + path, headers=headers, json={**body, "model": model_name}
        ) as streamed,
    ):
        assert streamed.status_code == 200
        for line in streamed.iter_lines():
            if line.startswith("data: {") and counted in line:
                seen += 1
                if seen == events:
                    return  # and the connection is closed


def access_line(gateway: gateway_process.GatewayProcess, key_id: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        lines = [json.loads(line) for line in gateway.stdout_lines if line.startswith("{")]
        return next((line for line in lines if line["key_id"] == key_id), None)

    return eventually(found, what=f"the access-log line of {key_id}")


def spent(gateway: gateway_process.GatewayProcess, key: keys.Key) -> float:
    return gateway.metric("runestone_key_budget_spent_usd", runestone_key_id=key.id)


def budget_charged(
    gateway: gateway_process.GatewayProcess, key: keys.Key, line: dict[str, Any]
) -> int:
    """Wait until the key's budget shows the tokens its access-log line names; return them."""
    charged: int = line["input_tokens"] + line["output_tokens"]
    eventually(
        lambda: spent(gateway, key) == pytest.approx(charged * USD_PER_TOKEN),
        what="the budget charged",
    )
    return charged


def test_a_stream_the_client_leaves_is_charged_for_what_was_relayed(
    gateway: gateway_process.GatewayProcess, upstream: running.Upstream
) -> None:
    leave_after(gateway, CUT, LEFT_AFTER, "m")
    line = access_line(gateway, CUT.id)
    assert (line["status"], line["error"]) == (200, "client_disconnected")
    assert line["tokens_estimated"] is True
    assert line["input_tokens"] == PROMPT_ESTIMATE
    # The role chunk carries no text, each other event a token; the gateway may have sent a
    # few more events before it saw the client go.
    assert LEFT_AFTER - 1 <= line["output_tokens"] <= LEFT_AFTER * 1.5, line
    charged = budget_charged(gateway, CUT, line)
    # The tokens-per-minute bucket was charged too: the next request sees what is left.
    # Without the charge it would be TPM less two prompt estimates; a few tokens refill meanwhile.
    answer = httpx.post(
        gateway.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {CUT.plaintext}"},
        json={**PROMPT, "stream": False},
        timeout=30,
    )
    remaining = int(answer.headers["x-ratelimit-remaining-tokens"])
    assert remaining <= TPM - charged - PROMPT_ESTIMATE + 20, (remaining, charged)
    assert gateway.metric(ESTIMATED, gen_ai_token_type="output") >= line["output_tokens"]


def test_a_stream_whose_upstream_omits_usage_is_charged(
    gateway: gateway_process.GatewayProcess, upstream: running.Upstream
) -> None:
    upstream.behaviour.stream_usage = False
    upstream.behaviour.chunk_delay_seconds = 0.0
    before = gateway.metric(ESTIMATED, gen_ai_token_type="output")
    answer = httpx.post(
        gateway.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {SILENT.plaintext}"},
        json={**PROMPT, "stream_options": {"include_usage": True}},
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.text.endswith("data: [DONE]\n\n")
    line = access_line(gateway, SILENT.id)
    assert (line["status"], line["error"], line["tokens_estimated"]) == (200, None, True)
    assert line["input_tokens"] == PROMPT_ESTIMATE
    assert WORDS - 5 <= line["output_tokens"] <= WORDS + 5, line
    charged = budget_charged(gateway, SILENT, line)
    assert gateway.metric(ESTIMATED, gen_ai_token_type="output") - before == line["output_tokens"]
    assert gateway.metric("runestone_cost_usd_total", runestone_key_id=SILENT.id) == pytest.approx(
        charged * USD_PER_TOKEN
    )


def test_an_anthropic_stream_the_client_leaves_keeps_its_reported_input(
    gateway: gateway_process.GatewayProcess, upstream: running.Upstream
) -> None:
    """Anthropic reports input tokens first and output only at the end: the input is its own
    count, the output the relay's estimate."""
    leave_after(gateway, PARTIAL, LEFT_AFTER, "c")
    line = access_line(gateway, PARTIAL.id)
    assert (line["error"], line["tokens_estimated"]) == ("client_disconnected", True)
    assert line["input_tokens"] == anthropic_server.INPUT_TOKENS
    assert LEFT_AFTER - 1 <= line["output_tokens"] <= LEFT_AFTER * 1.5, line
    budget_charged(gateway, PARTIAL, line)


@pytest.mark.parametrize(
    ("key", "path", "body", "model_name", "delta"),
    [
        pytest.param(
            RESPONSES,
            "/responses",
            {"input": "hi", "stream": True, "store": False},
            "m",
            "response.output_text.delta",
            id="responses-translated-to-chat",
        ),
        pytest.param(
            MESSAGES,
            "/messages",
            {"max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}], "stream": True},
            "c",
            "content_block_delta",
            id="messages-passed-to-anthropic",
        ),
    ],
)
def test_a_stream_in_the_clients_own_api_the_client_leaves_is_charged(
    gateway: gateway_process.GatewayProcess,
    upstream: running.Upstream,
    key: keys.Key,
    path: str,
    body: dict[str, Any],
    model_name: str,
    delta: str,
) -> None:
    """Responses and Messages streams are charged like chat's: the deltas relayed before the
    client left, each a token here, and the prompt (the upstream's count when it gave one)."""
    leave_after(gateway, key, LEFT_AFTER, model_name, path=path, body=body, counted=delta)
    line = access_line(gateway, key.id)
    assert (line["error"], line["tokens_estimated"]) == ("client_disconnected", True), line
    assert line["input_tokens"] >= 1
    if model_name == "c":
        assert line["input_tokens"] == anthropic_server.INPUT_TOKENS
    assert LEFT_AFTER - 1 <= line["output_tokens"] <= LEFT_AFTER * 1.5, line
    budget_charged(gateway, key, line)
