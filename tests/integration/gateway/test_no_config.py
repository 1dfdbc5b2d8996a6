"""Without --config the gateway serves the built-in mock, and since authentication is never off
it generates one API key, prints it once, and accepts only that key."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from fixtures.upstreams import gateway_process
from runestone_gateway import apikeys

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "ping pong"}]


def test_one_printed_key_and_only_that_key(start_gateway: Starter) -> None:
    gateway = start_gateway(None)
    key_lines = [line for line in gateway.stdout_lines if apikeys.PREFIX in line]
    assert len(key_lines) == 1
    assert apikeys.looks_like_key(gateway.api_key)
    assert gateway.api_key not in gateway.stderr(), "the key is printed, never logged"

    client = gateway.client()
    answer = client.chat.completions.create(model="mock-chat", messages=ASK)
    assert answer.choices[0].message.content == "Mock answer: ping pong"
    assert client.completions.create(model="mock-chat", prompt="a b").choices[0].text == (
        "Mock completion: a b"
    )
    assert len(client.embeddings.create(model="mock-embedding", input="x").data[0].embedding) > 0
    assert sorted(m.id for m in client.models.list()) == ["mock-chat", "mock-embedding"]

    for wrong in (apikeys.generate(), gateway.api_key + "x", "", "sk-anything"):
        with pytest.raises(openai.AuthenticationError):
            gateway.client(api_key=wrong or "-").models.list()


def test_each_start_generates_a_new_key(start_gateway: Starter) -> None:
    first, second = start_gateway(None), start_gateway(None)
    assert first.api_key != second.api_key
    with pytest.raises(openai.AuthenticationError):
        second.client(api_key=first.api_key).models.list()
