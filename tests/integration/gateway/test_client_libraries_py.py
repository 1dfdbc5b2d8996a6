"""LangChain's Python client (`langchain-openai`) against a real gateway over HTTPS with
operator-style keys: ChatOpenAI whole and streamed, sync and async, a tool round trip and a
streamed tool call, OpenAIEmbeddings, and the gateway's errors as the `openai` exception types
LangChain raises. (The official `openai` SDK is the client of the other gateway tests.)

LlamaIndex's OpenAI LLM is not here: its newest release (llama-index-llms-openai 0.8.3) requires
openai<3, and this project pins openai 3.x."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from fixtures import clientbench

PROMPT = "What is the weather in Paris?"


@pytest.fixture
async def connect(client_bench: clientbench.Bench) -> AsyncIterator[Callable[..., dict[str, Any]]]:
    """Connection settings for a LangChain client: the gateway, a key, and HTTP clients that
    trust the gateway's CA (closed after the test)."""
    opened: list[tuple[httpx.Client, httpx.AsyncClient]] = []

    def settings(key: str | None = None, *, trusted: bool = True) -> dict[str, Any]:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=client_bench.ca) if trusted else True
        )
        clients = httpx.Client(verify=verify), httpx.AsyncClient(verify=verify)
        opened.append(clients)
        return {
            "base_url": client_bench.base_url,
            "api_key": key or client_bench.app_key,
            "http_client": clients[0],
            "http_async_client": clients[1],
            "max_retries": 0,
        }

    yield settings
    for sync, asynchronous in opened:
        sync.close()
        await asynchronous.aclose()


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"18 °C and sunny in {city}"


def check_tool_call(message: AIMessage) -> dict[str, Any]:
    name, arguments = clientbench.TOOL
    assert len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert (call["name"], call["args"]) == (name, arguments)
    return dict(call)


def joined(chunks: Iterator[AIMessageChunk]) -> AIMessageChunk:
    whole: AIMessageChunk | None = None
    for chunk in chunks:
        whole = chunk if whole is None else whole + chunk
    assert whole is not None, "the stream was empty"
    return whole


def test_chat_whole_and_streamed(
    client_bench: clientbench.Bench, connect: Callable[..., dict[str, Any]]
) -> None:
    chat = ChatOpenAI(model=clientbench.CHAT, stream_usage=True, **connect())
    answer = chat.invoke(PROMPT)
    assert answer.content == client_bench.answer
    assert isinstance(answer, AIMessage)
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] == 11
    assert answer.response_metadata["finish_reason"] == "stop"
    streamed = joined(chat.stream(PROMPT))
    assert streamed.content == client_bench.answer
    assert streamed.usage_metadata is not None
    assert streamed.usage_metadata["input_tokens"] == 11


async def test_chat_async_whole_and_streamed(
    client_bench: clientbench.Bench, connect: Callable[..., dict[str, Any]]
) -> None:
    chat = ChatOpenAI(model=clientbench.CHAT, **connect())
    assert (await chat.ainvoke(PROMPT)).content == client_bench.answer
    text = "".join([str(chunk.content) async for chunk in chat.astream(PROMPT)])
    assert text == client_bench.answer


def test_a_tool_round_trip(
    client_bench: clientbench.Bench, connect: Callable[..., dict[str, Any]]
) -> None:
    chat = ChatOpenAI(model=clientbench.CHAT, **connect())
    question = HumanMessage(PROMPT)
    called = chat.bind_tools([get_weather]).invoke([question])
    assert isinstance(called, AIMessage)
    call = check_tool_call(called)
    result = get_weather.invoke(call)  # LangChain runs the tool: a ToolMessage for the call
    assert result.tool_call_id == call["id"]
    history: list[BaseMessage] = [question, called, result]
    assert chat.invoke(history).content == client_bench.answer


def test_a_streamed_tool_call(connect: Callable[..., dict[str, Any]]) -> None:
    chat = ChatOpenAI(model=clientbench.CHAT, **connect()).bind_tools([get_weather])
    streamed = list(chat.stream(PROMPT))
    chunks = [chunk for chunk in streamed if isinstance(chunk, AIMessageChunk)]
    assert len(chunks) == len(streamed)
    pieces = [c for c in chunks if any(p.get("args") for p in c.tool_call_chunks)]
    assert len(pieces) > 1, "the arguments arrive in several chunks"
    check_tool_call(joined(iter(chunks)))


async def test_embeddings(connect: Callable[..., dict[str, Any]]) -> None:
    # check_embedding_ctx_length=False: LangChain's default counts tokens with tiktoken, whose
    # tables it downloads from OpenAI; a non-OpenAI server (or no internet) needs it off.
    embeddings = OpenAIEmbeddings(
        model=clientbench.EMBEDDING, check_embedding_ctx_length=False, **connect()
    )
    vectors = embeddings.embed_documents(["first", "second"])
    for index, vector in enumerate(vectors):
        assert vector == pytest.approx([(index + 1) / (p + 1) for p in range(8)])
    assert embeddings.embed_query("one") == pytest.approx(vectors[0])
    assert await embeddings.aembed_documents(["first", "second"]) == vectors


@pytest.mark.parametrize(
    ("who", "model", "error", "status", "code"),
    [
        ("unknown", clientbench.CHAT, openai.AuthenticationError, 401, "invalid_api_key"),
        ("app", clientbench.FORBIDDEN, openai.PermissionDeniedError, 403, "model_not_allowed"),
        ("wildcard", clientbench.MISSING, openai.NotFoundError, 404, "model_not_found"),
        ("app", clientbench.DOWN, openai.InternalServerError, 502, "upstream_failed"),
    ],
)
def test_errors_are_the_openai_exception_types(
    client_bench: clientbench.Bench,
    connect: Callable[..., dict[str, Any]],
    who: str,
    model: str,
    error: type[openai.APIStatusError],
    status: int,
    code: str,
) -> None:
    key = client_bench.settings()["keys"][who]
    chat = ChatOpenAI(model=model, **connect(key))
    with pytest.raises(error) as raised:
        chat.invoke(PROMPT)
    assert raised.value.status_code == status
    assert raised.value.code == code
    with pytest.raises(error):
        joined(chat.stream(PROMPT))


def test_a_key_over_its_rate_limit(
    client_bench: clientbench.Bench, connect: Callable[..., dict[str, Any]]
) -> None:
    chat = ChatOpenAI(model=clientbench.CHAT, **connect(client_bench.limited_key))
    chat.invoke(PROMPT)  # its one request a minute
    with pytest.raises(openai.RateLimitError) as raised:
        chat.invoke(PROMPT)
    assert raised.value.code == "rate_limit_exceeded"
    assert int(raised.value.response.headers["retry-after"]) > 0


def test_https_needs_the_gateways_ca(connect: Callable[..., dict[str, Any]]) -> None:
    chat = ChatOpenAI(model=clientbench.CHAT, **connect(trusted=False))
    with pytest.raises(openai.APIConnectionError):
        chat.invoke(PROMPT)
