"""LangChain's Python clients against a real gateway over HTTPS with operator-style keys:
`langchain-openai`'s ChatOpenAI over Chat Completions and over the Responses API
(`use_responses_api=True`), whole and streamed, sync and async, a tool round trip and a streamed
tool call, a conversation continued by `previous_response_id`; OpenAIEmbeddings; the gateway's
errors as the `openai` exception types LangChain raises; and `langchain-anthropic`'s
ChatAnthropic on the gateway's Messages API. (The official `openai` and `anthropic` SDKs are the
clients of the other gateway tests.)

LlamaIndex's OpenAI LLM is not here: its newest release (llama-index-llms-openai 0.8.3) requires
openai<3, and this project pins openai 3.x."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anthropic
import httpx
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from fixtures import clientbench
from fixtures.upstreams import running

PROMPT = "What is the weather in Paris?"
APIS = pytest.mark.parametrize("responses_api", [False, True], ids=["chat", "responses"])
"""ChatOpenAI over Chat Completions, and over the Responses API (`use_responses_api`)."""


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


def check_streamed_tool_call(stream: Iterator[BaseMessage]) -> None:
    streamed = list(stream)
    chunks = [chunk for chunk in streamed if isinstance(chunk, AIMessageChunk)]
    assert len(chunks) == len(streamed)
    pieces = [c for c in chunks if any(p.get("args") for p in c.tool_call_chunks)]
    assert len(pieces) > 1, "the arguments arrive in several chunks"
    check_tool_call(joined(iter(chunks)))


def joined(chunks: Iterator[AIMessageChunk]) -> AIMessageChunk:
    whole: AIMessageChunk | None = None
    for chunk in chunks:
        whole = chunk if whole is None else whole + chunk
    assert whole is not None, "the stream was empty"
    return whole


@APIS
def test_chat_whole_and_streamed(
    client_bench: clientbench.Bench, connect: Callable[..., dict[str, Any]], responses_api: bool
) -> None:
    chat = ChatOpenAI(
        model=clientbench.CHAT, stream_usage=True, use_responses_api=responses_api, **connect()
    )
    answer = chat.invoke(PROMPT)
    assert answer.text == client_bench.answer
    assert isinstance(answer, AIMessage)
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] == 11
    assert answer.usage_metadata["output_tokens"] == len(client_bench.answer.split(" "))
    if responses_api:
        assert answer.response_metadata["status"] == "completed"
        assert answer.response_metadata["id"].startswith("resp_")
    else:
        assert answer.response_metadata["finish_reason"] == "stop"
    streamed = joined(chat.stream(PROMPT))
    assert streamed.text == client_bench.answer
    assert streamed.usage_metadata is not None
    assert streamed.usage_metadata["input_tokens"] == 11


@APIS
async def test_chat_async_whole_and_streamed(
    client_bench: clientbench.Bench, connect: Callable[..., dict[str, Any]], responses_api: bool
) -> None:
    chat = ChatOpenAI(model=clientbench.CHAT, use_responses_api=responses_api, **connect())
    assert (await chat.ainvoke(PROMPT)).text == client_bench.answer
    text = "".join([chunk.text async for chunk in chat.astream(PROMPT)])
    assert text == client_bench.answer


@APIS
def test_a_tool_round_trip(
    client_bench: clientbench.Bench, connect: Callable[..., dict[str, Any]], responses_api: bool
) -> None:
    chat = ChatOpenAI(model=clientbench.CHAT, use_responses_api=responses_api, **connect())
    question = HumanMessage(PROMPT)
    called = chat.bind_tools([get_weather]).invoke([question])
    assert isinstance(called, AIMessage)
    call = check_tool_call(called)
    result = get_weather.invoke(call)  # LangChain runs the tool: a ToolMessage for the call
    assert result.tool_call_id == call["id"]
    history: list[BaseMessage] = [question, called, result]
    assert chat.invoke(history).text == client_bench.answer


@APIS
def test_a_streamed_tool_call(connect: Callable[..., dict[str, Any]], responses_api: bool) -> None:
    chat = ChatOpenAI(
        model=clientbench.CHAT, use_responses_api=responses_api, **connect()
    ).bind_tools([get_weather])
    check_streamed_tool_call(chat.stream(PROMPT))


def test_a_conversation_continued_by_previous_response_id(
    client_bench: clientbench.Bench,
    connect: Callable[..., dict[str, Any]],
    module_upstream: running.Upstream,
) -> None:
    # LangChain sends only the turns after its last answer, naming that answer's response: the
    # gateway finds the earlier turns in its shared store.
    chat = ChatOpenAI(
        model=clientbench.CHAT, use_responses_api=True, use_previous_response_id=True, **connect()
    )
    question = HumanMessage("My name is Ada.")
    first = chat.invoke([question])
    assert isinstance(first, AIMessage)
    history: list[BaseMessage] = [question, first, HumanMessage("What is my name?")]
    second = chat.invoke(history)
    assert second.text == client_bench.answer
    sent = module_upstream.record.posts()[-1].body
    assert sent["messages"] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": client_bench.answer},
        {"role": "user", "content": "What is my name?"},
    ]
    # Another key cannot continue it: as if it did not exist (which also shows that LangChain
    # named the response rather than sending the whole conversation).
    other = ChatOpenAI(
        model=clientbench.CHAT,
        use_responses_api=True,
        use_previous_response_id=True,
        **connect(client_bench.wildcard_key),
    )
    with pytest.raises(openai.BadRequestError) as raised:
        other.invoke(history)
    assert raised.value.code == "previous_response_not_found"


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


FAILURES = pytest.mark.parametrize(
    ("who", "model", "status"),
    [
        ("unknown", clientbench.CHAT, 401),
        ("app", clientbench.FORBIDDEN, 403),
        ("wildcard", clientbench.MISSING, 404),
        ("app", clientbench.DOWN, 502),
    ],
)
"""A request the gateway refuses (key, allow-list, model) or cannot serve (the upstream)."""

E = TypeVar("E", bound=Exception)


def refused(chat: BaseChatModel, error: type[E]) -> E:
    """What `chat` raised for PROMPT, whole; streamed, it must raise the same type."""
    with pytest.raises(error) as raised:
        chat.invoke(PROMPT)
    with pytest.raises(error):
        joined(chat.stream(PROMPT))
    return raised.value


@APIS
@FAILURES
def test_errors_are_the_openai_exception_types(
    client_bench: clientbench.Bench,
    connect: Callable[..., dict[str, Any]],
    who: str,
    model: str,
    status: int,
    responses_api: bool,
) -> None:
    error, code = {
        401: (openai.AuthenticationError, "invalid_api_key"),
        403: (openai.PermissionDeniedError, "model_not_allowed"),
        404: (openai.NotFoundError, "model_not_found"),
        502: (openai.InternalServerError, "upstream_failed"),
    }[status]
    key = client_bench.settings()["keys"][who]
    chat = ChatOpenAI(model=model, use_responses_api=responses_api, **connect(key))
    raised = refused(chat, error)
    assert raised.status_code == status
    assert raised.code == code


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


@pytest.fixture
def anthropic_chat(
    client_bench: clientbench.Bench, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., ChatAnthropic]:
    """ChatAnthropic on the gateway's origin (as ANTHROPIC_BASE_URL would be), trusting the
    gateway's CA through SSL_CERT_FILE: LangChain builds the Anthropic SDK's HTTP client itself
    and takes none from the caller."""
    monkeypatch.setenv("SSL_CERT_FILE", str(client_bench.ca))

    def chat(key: str | None = None, model: str = clientbench.CHAT) -> ChatAnthropic:
        return ChatAnthropic(
            model=model,
            base_url=client_bench.base_url.removesuffix("/v1"),
            api_key=key or client_bench.app_key,
            max_retries=0,
            max_tokens=100,
            timeout=30,
            stop=None,
        )

    return chat


def test_chat_anthropic_whole_and_streamed(
    client_bench: clientbench.Bench, anthropic_chat: Callable[..., ChatAnthropic]
) -> None:
    chat = anthropic_chat()
    answer = chat.invoke(PROMPT)
    assert answer.text == client_bench.answer
    assert answer.response_metadata["stop_reason"] == "end_turn"
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] == 11
    streamed = joined(chat.stream(PROMPT))
    assert streamed.text == client_bench.answer
    assert streamed.usage_metadata is not None
    assert streamed.usage_metadata["input_tokens"] == 11


async def test_chat_anthropic_async(
    client_bench: clientbench.Bench, anthropic_chat: Callable[..., ChatAnthropic]
) -> None:
    chat = anthropic_chat()
    assert (await chat.ainvoke(PROMPT)).text == client_bench.answer
    text = "".join([chunk.text async for chunk in chat.astream(PROMPT)])
    assert text == client_bench.answer


def test_chat_anthropic_tool_round_trip(
    client_bench: clientbench.Bench, anthropic_chat: Callable[..., ChatAnthropic]
) -> None:
    question = HumanMessage(PROMPT)
    called = anthropic_chat().bind_tools([get_weather]).invoke([question])
    assert isinstance(called, AIMessage)
    call = check_tool_call(called)
    result = get_weather.invoke(call)
    # Streamed, the call's input arrives in input_json_delta pieces that LangChain joins.
    check_streamed_tool_call(anthropic_chat().bind_tools([get_weather]).stream([question]))
    history: list[BaseMessage] = [question, called, result]
    assert anthropic_chat().invoke(history).text == client_bench.answer


@FAILURES
def test_chat_anthropic_errors_are_the_anthropic_exception_types(
    client_bench: clientbench.Bench,
    anthropic_chat: Callable[..., ChatAnthropic],
    who: str,
    model: str,
    status: int,
) -> None:
    error, kind = {
        401: (anthropic.AuthenticationError, "authentication_error"),
        403: (anthropic.PermissionDeniedError, "permission_error"),
        404: (anthropic.NotFoundError, "not_found_error"),
        502: (anthropic.InternalServerError, "api_error"),
    }[status]
    raised = refused(anthropic_chat(client_bench.settings()["keys"][who], model), error)
    assert raised.status_code == status
    assert isinstance(raised.body, dict)
    assert raised.body["error"]["type"] == kind
