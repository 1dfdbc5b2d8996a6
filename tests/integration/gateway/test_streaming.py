"""Streams are relayed as they arrive, usage is counted from the stream, a stream is never
retried once bytes reached the client, and a client that goes away cancels the upstream request."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from fixtures.upstreams import control, gateway_process, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
DISCONNECT_TIMEOUT = 30


def single(upstream: running.Upstream, start_gateway: Starter) -> gateway_process.GatewayProcess:
    models = [model("m", kinds=["chat", "completion"])]
    return start_gateway({"providerPools": [pool("p", [provider("up", upstream, models=models)])]})


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
def test_chunks_reach_the_client_while_the_upstream_is_still_answering(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter, flavour: str
) -> None:
    upstream = start_upstream(flavour)
    gate = control.Gate()
    upstream.behaviour.hold_after_first = gate
    gateway = single(upstream, start_gateway)
    # If the gateway buffered, the first chunk would wait for the gate that only opens after
    # it arrived, and the client's read would time out.
    client = openai.OpenAI(
        base_url=gateway.base_url, api_key=gateway.api_key, max_retries=0, timeout=30
    )
    stream = client.chat.completions.create(model="m", messages=ASK, stream=True)
    first = next(iter(stream))
    assert first.choices[0].delta.role == "assistant"
    gate.open()
    rest = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert rest == upstream.behaviour.text


def test_usage_is_counted_from_the_stream(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    gateway = single(openai_upstream, start_gateway)
    chunks = list(gateway.client().chat.completions.create(model="m", messages=ASK, stream=True))
    assert all(chunk.usage is None for chunk in chunks), "the client did not ask for usage"
    # The gateway asked the upstream for usage anyway, to count it.
    assert openai_upstream.record.posts()[0].body["stream_options"] == {"include_usage": True}
    output_words = len(openai_upstream.behaviour.text.split(" "))
    labels = {"gen_ai_request_model": "m", "runestone_provider": "up"}
    assert (
        gateway.metric("gen_ai_client_token_usage_sum", gen_ai_token_type="output", **labels)
        == output_words
    )
    assert (
        gateway.metric("gen_ai_client_token_usage_sum", gen_ai_token_type="input", **labels) == 11
    )
    assert gateway.metric("gen_ai_server_time_to_first_token_count", **labels) == 1


def test_anthropic_stream_usage_is_counted(
    anthropic_upstream: running.Upstream, start_gateway: Starter
) -> None:
    gateway = single(anthropic_upstream, start_gateway)
    list(gateway.client().completions.create(model="m", prompt="p", stream=True))
    labels = {"gen_ai_request_model": "m", "gen_ai_operation_name": "text_completion"}
    assert (
        gateway.metric("gen_ai_client_token_usage_sum", gen_ai_token_type="input", **labels) == 13
    )
    assert gateway.metric(
        "gen_ai_client_token_usage_sum", gen_ai_token_type="output", **labels
    ) == len(anthropic_upstream.behaviour.text.split(" "))


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
def test_a_stream_is_never_retried_after_its_first_byte(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter, flavour: str
) -> None:
    breaking, backup = start_upstream(flavour), start_upstream("openai")
    breaking.behaviour.break_after_first = True
    models = [model("m")]
    gateway = start_gateway(
        {
            "providerPools": [
                pool(
                    "p",
                    [
                        provider("breaking", breaking, models=models),
                        provider("backup", backup, priority=1, models=models),
                    ],
                )
            ]
        }
    )
    stream = gateway.client().chat.completions.create(model="m", messages=ASK, stream=True)
    received: list[openai.types.chat.ChatCompletionChunk] = []

    def read_all() -> None:
        received.extend(stream)

    with pytest.raises(openai.APIError) as raised:
        read_all()
    assert received
    assert received[0].choices[0].delta.role == "assistant"
    assert "upstream failed during the stream" in raised.value.message
    assert len(breaking.record.posts()) == 1
    assert backup.record.posts() == [], "bytes had reached the client: no failover"


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
def test_client_disconnect_cancels_the_upstream_request(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter, flavour: str
) -> None:
    upstream = start_upstream(flavour)
    upstream.behaviour.hold_after_first = control.Gate()  # never opened: the stream hangs
    gateway = single(upstream, start_gateway)
    stream = gateway.client().chat.completions.create(model="m", messages=ASK, stream=True)
    next(iter(stream))
    assert not upstream.record.disconnected.is_set()
    stream.close()
    assert upstream.record.disconnected.wait(DISCONNECT_TIMEOUT), "the upstream saw no disconnect"
    eventually(
        lambda: (
            gateway.metric("gen_ai_server_request_duration_count", error_type="client_disconnected")
            == 1
        ),
        what="the request to be recorded as cut short by the client",
    )


async def test_async_client_disconnect_cancels_the_upstream_request(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    openai_upstream.behaviour.hold_after_first = control.Gate()
    gateway = single(openai_upstream, start_gateway)
    async with gateway.async_client() as client:
        stream = await client.chat.completions.create(model="m", messages=ASK, stream=True)
        async for _ in stream:
            break
        await stream.close()
    assert openai_upstream.record.disconnected.wait(DISCONNECT_TIMEOUT)


def test_disconnect_before_the_first_byte_cancels_the_upstream_request(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    openai_upstream.behaviour.delay_seconds = 3600
    gateway = single(openai_upstream, start_gateway)
    client = openai.OpenAI(
        base_url=gateway.base_url, api_key=gateway.api_key, max_retries=0, timeout=2
    )
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=ASK, stream=True)
    assert openai_upstream.record.disconnected.wait(DISCONNECT_TIMEOUT)
    assert gateway.health("/readyz").status_code == 200
