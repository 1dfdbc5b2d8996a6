"""What the translation tests share: chat answers and the streams an upstream would send for
them, and the official SDKs (their types, their stream accumulators, their clients over an
in-memory transport) as the judges of what the translations give."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pydantic
from anthropic.types import Message, RawMessageStreamEvent
from openai.types.responses import Response, ResponseStreamEvent

RESPONSE_EVENT: pydantic.TypeAdapter[ResponseStreamEvent] = pydantic.TypeAdapter(
    ResponseStreamEvent
)
MESSAGE_EVENT: pydantic.TypeAdapter[RawMessageStreamEvent] = pydantic.TypeAdapter(
    RawMessageStreamEvent
)


# --- chat answers and streams


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chat_usage(
    prompt: int, completion: int, *, cached: int = 0, written: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def chat_answer(
    text: str | None = "Hello",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str = "stop",
    usage: dict[str, Any] | None = None,
    refusal: str | None = None,
    stop_reason: str | None = None,
) -> dict[str, Any]:
    """A whole Chat Completions answer as an OpenAI-compatible server sends it."""
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": refusal}
    if tool_calls:
        message["tool_calls"] = tool_calls
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "finish_reason": finish,
        "logprobs": None,
    }
    if stop_reason is not None:
        choice["stop_reason"] = stop_reason  # vLLM: the stop string that ended the answer
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "upstream-model",
        "choices": [choice],
        "usage": usage if usage is not None else chat_usage(12, 5),
    }


def chunk(
    delta: dict[str, Any] | None = None,
    finish: str | None = None,
    *,
    usage: dict[str, Any] | None = None,
    stop_reason: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "upstream-model",
        "choices": [],
    }
    if delta is not None or finish is not None:
        choice = {"index": 0, "delta": delta or {}, "finish_reason": finish, "logprobs": None}
        if stop_reason is not None:
            choice["stop_reason"] = stop_reason
        body["choices"] = [choice]
    if usage is not None:
        body["usage"] = usage
    return body


def event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


DONE = b"data: [DONE]\n\n"


def pieces(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def stream_of(answer: dict[str, Any], *, size: int = 3, interleave: bool = False) -> list[bytes]:
    """The chat stream an upstream sends for `answer`: text and each call's arguments cut in
    pieces of `size` characters; with `interleave`, the calls' pieces take turns."""
    choice = answer["choices"][0]
    message = choice["message"]
    events = [event(chunk({"role": "assistant", "content": ""}))]
    events += [event(chunk({"content": piece})) for piece in pieces(message["content"] or "", size)]
    events += [event(chunk({"refusal": piece})) for piece in pieces(message["refusal"] or "", size)]
    calls = message.get("tool_calls") or []
    heads = [
        {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        for index, call in enumerate(calls)
    ]
    tails = [
        [
            {"index": index, "function": {"arguments": piece}}
            for piece in pieces(call["function"]["arguments"], size)
        ]
        for index, call in enumerate(calls)
    ]
    if interleave:
        events += [event(chunk({"tool_calls": [head]})) for head in heads]
        while any(tails):
            for tail in tails:
                if tail:
                    events.append(event(chunk({"tool_calls": [tail.pop(0)]})))
    else:
        for head, tail in zip(heads, tails, strict=True):
            events.append(event(chunk({"tool_calls": [head]})))
            events += [event(chunk({"tool_calls": [delta]})) for delta in tail]
    events.append(event(chunk({}, choice["finish_reason"], stop_reason=choice.get("stop_reason"))))
    events.append(event(chunk(usage=answer["usage"])))
    events.append(DONE)
    return events


WEATHER = '{"city": "Oslo", "unit": "celsius", "days": [1, 2, 3]}'

# Parallel calls, to be streamed with their arguments' pieces taking turns.
THREE_CALLS = [
    tool_call("call_a", "get_weather", WEATHER),
    tool_call("call_b", "get_weather", '{"city": "Rome"}'),
    tool_call("call_c", "get_time", '{"zone": "UTC"}'),
]

# Answers whose streams must come out as their whole translations do.
ANSWERS = {
    "text": chat_answer("The weather in Oslo is cold today."),
    "unicode": chat_answer("Grüße 世界 👋🏽 — naïve café"),
    "whitespace": chat_answer("  \n  "),
    "text and two tools": chat_answer(
        "Checking both.",
        tool_calls=[
            tool_call("call_1", "get_weather", WEATHER),
            tool_call("call_2", "get_time", '{"zone": "Europe/Oslo"}'),
        ],
        finish="tool_calls",
    ),
    "tools only": chat_answer(
        None, tool_calls=[tool_call("call_1", "get_weather", WEATHER)], finish="tool_calls"
    ),
    "a tool without arguments": chat_answer(
        None, tool_calls=[tool_call("call_1", "now", "")], finish="tool_calls"
    ),
    "refusal": chat_answer(None, refusal="I can't help with that."),
    "empty": chat_answer(""),
    "cached and reasoning usage": chat_answer(
        "Hi", usage=chat_usage(2048, 90, cached=1024, written=512, reasoning=64)
    ),
}


# --- reading what the translations send


def named_events(raw: bytes) -> list[dict[str, Any]]:
    """Each `event: <type>\\ndata: <json>` event's data; the name must be the data's type."""
    found = []
    for block in raw.split(b"\n\n"):
        if not block:
            continue
        head, _, data = block.partition(b"\n")
        assert head.startswith(b"event: "), block
        assert data.startswith(b"data: "), block
        payload = orjson.loads(data[6:])
        assert payload["type"] == head[7:].decode()
        found.append(payload)
    return found


def _transport(body: bytes, content_type: str) -> httpx2.Client:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": content_type}, content=body)

    return httpx2.Client(transport=httpx2.MockTransport(answer))


def openai_client(body: bytes, content_type: str = "application/json") -> openai.OpenAI:
    """The official client, answered with `body` (no network, no server)."""
    return openai.OpenAI(
        api_key="test",
        base_url="http://gateway.test/v1",
        http_client=_transport(body, content_type),
    )


def anthropic_client(body: bytes, content_type: str = "application/json") -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="test", base_url="http://gateway.test", http_client=_transport(body, content_type)
    )


class SdkResponseStream:
    """A Responses event stream as the openai SDK's `responses.stream` helper reads it."""

    def __init__(self, raw: bytes) -> None:
        for payload in named_events(raw):
            RESPONSE_EVENT.validate_python(payload)  # every event has the SDK type's shape
        client = openai_client(raw, "text/event-stream")
        with client.responses.stream(model="client-model", input="hi") as stream:
            self.events = list(stream)
            self.final = stream.get_final_response() if self.completed else None

    @property
    def completed(self) -> bool:
        return any(event.type == "response.completed" for event in self.events)

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def snapshots(self) -> dict[int, str]:
        """What the SDK put together from the deltas alone: each item's text or arguments."""
        built: dict[int, str] = {}
        for event in self.events:
            if event.type in (
                "response.output_text.delta",
                "response.function_call_arguments.delta",
            ):
                built[event.output_index] = event.snapshot
        return built


def sdk_message_stream(raw: bytes) -> Message:
    """A Messages event stream as the anthropic SDK's `messages.stream` helper puts it together."""
    for payload in named_events(raw):
        if payload["type"] not in ("ping", "error"):
            MESSAGE_EVENT.validate_python(payload)
    client = anthropic_client(raw, "text/event-stream")
    with client.messages.stream(
        model="client-model", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        return stream.get_final_message()


def sdk_response(body: dict[str, Any]) -> Response:
    """A whole response object as `responses.create` gives it to its caller."""
    Response.model_validate(body)
    return openai_client(orjson.dumps(body)).responses.create(model="client-model", input="hi")


def sdk_message(body: dict[str, Any]) -> Message:
    Message.model_validate(body)
    return anthropic_client(orjson.dumps(body)).messages.create(
        model="client-model", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )


# What each translation makes anew (ids, timestamps), and what the SDK's parsing adds.
UNCOMPARED = {"id", "created_at", "completed_at", "parsed", "parsed_arguments"}


def comparable(value: Any) -> Any:
    """An object without what may differ between two translations of one answer."""
    if isinstance(value, dict):
        return {key: comparable(item) for key, item in value.items() if key not in UNCOMPARED}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    return value
