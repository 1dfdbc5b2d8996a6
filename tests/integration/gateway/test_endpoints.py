"""Every endpoint, whole and streamed, through each provider type (openai, anthropic, mock),
with the official OpenAI SDK (sync and async) as the client."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import openai
import pytest

from fixtures.upstreams import gateway_process, running
from fixtures.upstreams.gateway_process import model, pool, provider

UPSTREAM_TEXT = "Hello from the upstream stand-in"
PROMPT = "tell me about runestones"


@dataclass(frozen=True)
class Setup:
    gateway: gateway_process.GatewayProcess
    openai_upstream: running.Upstream
    anthropic_upstream: running.Upstream


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    workdir = tmp_path_factory.mktemp("endpoints")
    openai_key = workdir / "openai-key"
    openai_key.write_text("sk-openai-upstream\n")
    anthropic_key = workdir / "anthropic-key"
    anthropic_key.write_text("sk-ant-upstream\n")
    with running.upstream("openai") as openai_up, running.upstream("anthropic") as anthropic_up:
        document = {
            "providerPools": [
                pool(
                    "openai-pool",
                    [
                        provider(
                            "openai-up",
                            openai_up,
                            api_key_file=openai_key,
                            models=[
                                model("gpt-test", "upstream-gpt", ["chat", "completion"]),
                                model("embed-test", "upstream-embed", ["embedding"]),
                            ],
                        )
                    ],
                ),
                pool(
                    "anthropic-pool",
                    [
                        provider(
                            "anthropic-up",
                            anthropic_up,
                            api_key_file=anthropic_key,
                            models=[
                                model("claude-test", "claude-upstream", ["chat", "completion"])
                            ],
                        )
                    ],
                ),
                pool(
                    "mock-pool",
                    [
                        provider(
                            "mock",
                            models=[
                                model("mock-chat", kinds=["chat", "completion"]),
                                model("mock-embed", kinds=["embedding"]),
                            ],
                        )
                    ],
                ),
            ]
        }
        for starter in gateway_process.starter(workdir):
            yield Setup(starter(document), openai_up, anthropic_up)


CHAT_MODELS = {"openai": "gpt-test", "anthropic": "claude-test", "mock": "mock-chat"}
EMBEDDING_MODELS = {"openai": "embed-test", "mock": "mock-embed"}


def expected_chat(flavour: str) -> str:
    return f"Mock answer: {PROMPT}" if flavour == "mock" else UPSTREAM_TEXT


def expected_completion(flavour: str) -> str:
    return f"Mock completion: {PROMPT}" if flavour == "mock" else UPSTREAM_TEXT


MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": PROMPT},
]

flavours = pytest.mark.parametrize("flavour", ["openai", "anthropic", "mock"])


@flavours
def test_chat_whole(setup: Setup, flavour: str) -> None:
    answer = setup.gateway.client().chat.completions.create(
        model=CHAT_MODELS[flavour], messages=MESSAGES
    )
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content == expected_chat(flavour)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.total_tokens > 0


@flavours
def test_chat_streamed_with_usage(setup: Setup, flavour: str) -> None:
    chunks = list(
        setup.gateway.client().chat.completions.create(
            model=CHAT_MODELS[flavour],
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    content = [chunk for chunk in chunks if chunk.choices]
    assert "".join(c.choices[0].delta.content or "" for c in content) == expected_chat(flavour)
    assert len(content) > 3, "the answer arrives in several chunks"
    assert content[-1].choices[0].finish_reason == "stop"
    usage = chunks[-1].usage
    assert not chunks[-1].choices
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0


@flavours
def test_chat_streamed_without_usage_has_no_usage_chunk(setup: Setup, flavour: str) -> None:
    chunks = list(
        setup.gateway.client().chat.completions.create(
            model=CHAT_MODELS[flavour], messages=MESSAGES, stream=True
        )
    )
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


@flavours
async def test_chat_async_whole_and_streamed(setup: Setup, flavour: str) -> None:
    async with setup.gateway.async_client() as client:
        answer = await client.chat.completions.create(model=CHAT_MODELS[flavour], messages=MESSAGES)
        assert answer.choices[0].message.content == expected_chat(flavour)
        stream = await client.chat.completions.create(
            model=CHAT_MODELS[flavour], messages=MESSAGES, stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == expected_chat(flavour)


@flavours
def test_completion_whole_and_streamed(setup: Setup, flavour: str) -> None:
    client = setup.gateway.client()
    whole = client.completions.create(model=CHAT_MODELS[flavour], prompt=PROMPT)
    assert whole.object == "text_completion"
    assert whole.choices[0].text == expected_completion(flavour)
    assert whole.usage is not None
    assert whole.usage.completion_tokens > 0
    chunks = list(
        client.completions.create(
            model=CHAT_MODELS[flavour],
            prompt=PROMPT,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)
    assert text == expected_completion(flavour)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


@flavours
async def test_completion_async(setup: Setup, flavour: str) -> None:
    async with setup.gateway.async_client() as client:
        whole = await client.completions.create(model=CHAT_MODELS[flavour], prompt=PROMPT)
        assert whole.choices[0].text == expected_completion(flavour)
        stream = await client.completions.create(
            model=CHAT_MODELS[flavour], prompt=PROMPT, stream=True
        )
        text = "".join([chunk.choices[0].text async for chunk in stream if chunk.choices])
        assert text == expected_completion(flavour)


@pytest.mark.parametrize("flavour", ["openai", "mock"])
def test_embeddings_as_floats_and_base64(setup: Setup, flavour: str) -> None:
    client = setup.gateway.client()
    floats = client.embeddings.create(
        model=EMBEDDING_MODELS[flavour], input=["first", "second"], encoding_format="float"
    )
    assert [item.index for item in floats.data] == [0, 1]
    # The SDK asks for base64 by default and decodes it; both must carry the same vectors.
    decoded = client.embeddings.create(model=EMBEDDING_MODELS[flavour], input=["first", "second"])
    for plain, packed in zip(floats.data, decoded.data, strict=True):
        assert plain.embedding == pytest.approx(packed.embedding, rel=1e-6)
    assert floats.usage.prompt_tokens > 0


@pytest.mark.parametrize("flavour", ["openai", "mock"])
async def test_embeddings_async(setup: Setup, flavour: str) -> None:
    async with setup.gateway.async_client() as client:
        result = await client.embeddings.create(model=EMBEDDING_MODELS[flavour], input="one")
        assert len(result.data) == 1
        assert len(result.data[0].embedding) > 0


def test_embeddings_base64_bytes_pass_through_unchanged(setup: Setup) -> None:
    raw = setup.gateway.client().embeddings.with_raw_response.create(
        model="embed-test", input="x", encoding_format="base64"
    )
    encoded = raw.http_response.json()["data"][0]["embedding"]
    assert struct.unpack("<8f", base64.b64decode(encoded))[0] == 1.0


def test_models_list_and_retrieve(setup: Setup) -> None:
    client = setup.gateway.client()
    names = sorted(m.id for m in client.models.list())
    assert names == ["claude-test", "embed-test", "gpt-test", "mock-chat", "mock-embed"]
    claude = client.models.retrieve("claude-test")
    assert claude.id == "claude-test"
    assert claude.owned_by == "anthropic-pool"
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("no-such-model")
    assert raised.value.status_code == 404


async def test_models_async(setup: Setup) -> None:
    async with setup.gateway.async_client() as client:
        page = await client.models.list()
        assert "mock-chat" in [m.id for m in page.data]
        assert (await client.models.retrieve("gpt-test")).object == "model"


def test_upstreams_receive_upstream_names_and_provider_keys(setup: Setup) -> None:
    client = setup.gateway.client()
    client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    client.chat.completions.create(model="claude-test", messages=MESSAGES)
    to_openai = setup.openai_upstream.record.posts()[-1]
    assert to_openai.body["model"] == "upstream-gpt"
    assert to_openai.headers["authorization"] == "Bearer sk-openai-upstream"
    assert to_openai.body["messages"] == MESSAGES
    to_anthropic = setup.anthropic_upstream.record.posts()[-1]
    assert to_anthropic.path == "/v1/messages"
    assert to_anthropic.body["model"] == "claude-upstream"
    assert to_anthropic.headers["x-api-key"] == "sk-ant-upstream"
    assert to_anthropic.headers["anthropic-version"] == "2023-06-01"
    assert to_anthropic.body["system"] == "You are terse."
    assert to_anthropic.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": PROMPT}]}
    ]
    # The client's own key never travels upstream.
    for received in (to_openai, to_anthropic):
        assert setup.gateway.api_key not in str(received.headers)


def test_upstream_connections_are_pooled(setup: Setup) -> None:
    client = setup.gateway.client()
    for _ in range(5):
        client.chat.completions.create(model="gpt-test", messages=MESSAGES)
        list(client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True))
    ports = {received.client_port for received in setup.openai_upstream.record.posts()[-10:]}
    assert len(ports) == 1, "one kept-alive upstream connection served every request"
