"""The built-in mock provider: deterministic answers without a network, for demos and tests.

A chat answer repeats the last user message, one word per streamed chunk; a tool call is made
when the request requires one; offered the gateway's `file_search` function, it searches for
the last user message and then names and cites the first result, as a model would (so the
quickstart shows file_search with no model behind it); embeddings are unit vectors derived from
a hash of the input. Tokens are counted as whitespace-separated words."""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
import time
from collections.abc import AsyncGenerator
from typing import Any

import orjson

from runestone_gateway.providers import base, shapes
from runestone_gateway.translate import file_search
from runestone_gateway.transport import sse

DEFAULT_DIMENSIONS = 16


class MockProvider(base.Provider):
    async def answer(self, call: base.Call) -> base.Answer:
        if call.kind == "embedding":
            return _embeddings(call)
        reply = _Reply.of(call)
        created = int(time.time())
        if call.kind == "chat":
            body = shapes.chat_completion(
                id=shapes.new_id("chat"),
                created=created,
                model=call.upstream_model,
                content=None if reply.tool_calls else reply.text,
                tool_calls=reply.tool_calls,
                finish_reason=reply.finish_reason,
                usage=reply.usage,
            )
        else:
            body = shapes.text_completion(
                id=shapes.new_id("completion"),
                created=created,
                model=call.upstream_model,
                text=reply.text,
                finish_reason=shapes.completion_finish_reason(reply.finish_reason),
                usage=reply.usage,
            )
        return base.Answer(orjson.dumps(body), reply.usage)

    async def stream(self, call: base.Call) -> base.EventStream:
        meter = base.UsageMeter()
        return base.EventStream(_stream_events(call, _Reply.of(call), meter), meter)

    async def probe(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class _Reply:
    def __init__(
        self, text: str, tool_calls: list[dict[str, Any]], finish_reason: str, usage: base.Usage
    ) -> None:
        self.text = text
        self.tool_calls = tool_calls
        self.finish_reason = finish_reason
        self.usage = usage

    @classmethod
    def of(cls, call: base.Call) -> _Reply:
        body = call.body
        if call.kind == "chat":
            messages = body["messages"]
            prompt_words = sum(len(shapes.text_of(m.get("content")).split()) for m in messages)
            last_user = next(
                (
                    shapes.text_of(m.get("content"))
                    for m in reversed(messages)
                    if m["role"] == "user"
                ),
                "",
            )
            tool = _required_tool(body)
            arguments: dict[str, Any] = {}
            searched = _searched(body)
            if tool is None and searched is None and _offers_search(body):
                tool, arguments = file_search.NAME, {"queries": [last_user]}
            if tool is not None:
                tool_call = {
                    "id": "call_" + hashlib.sha256(last_user.encode()).hexdigest()[:24],
                    "type": "function",
                    "function": {"name": tool, "arguments": orjson.dumps(arguments).decode()},
                }
                return cls("", [tool_call], "tool_calls", base.Usage(prompt_words, 1))
            said = last_user if searched is None else _cite_first(searched)
            words = ["Mock", "answer:", *said.split()]
        else:
            prompt = body["prompt"]
            text = prompt if isinstance(prompt, str) else " ".join(str(p) for p in prompt)
            prompt_words = len(text.split())
            words = ["Mock", "completion:", *text.split()]
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish_reason = "stop"
        if isinstance(limit, int) and 0 < limit < len(words):
            words = words[:limit]
            finish_reason = "length"
        return cls(" ".join(words), [], finish_reason, base.Usage(prompt_words, len(words)))


_RESULT = re.compile(r"^\[\^(\d+)\] (.+)$", re.MULTILINE)
"""A search result's first line in the function's output: its marker and its file's name."""


def _offers_search(body: dict[str, Any]) -> bool:
    if body.get("tool_choice") == "none":
        return False
    return any(
        isinstance(tool, dict)
        and isinstance(tool.get("function"), dict)
        and tool["function"].get("name") == file_search.NAME
        for tool in body.get("tools") or []
    )


def _searched(body: dict[str, Any]) -> str | None:
    """The output of the search this conversation ends with (the last message answers a
    `file_search` call of the assistant message before it), or None."""
    messages = body["messages"]
    if len(messages) < 2 or messages[-1].get("role") != "tool":
        return None
    calls = {
        call.get("id")
        for call in messages[-2].get("tool_calls") or []
        if isinstance(call, dict) and (call.get("function") or {}).get("name") == file_search.NAME
    }
    last = messages[-1]
    return shapes.text_of(last.get("content")) if last.get("tool_call_id") in calls else None


def _cite_first(output: str) -> str:
    """An answer from the search's output: the first result's file, cited by its marker."""
    found = _RESULT.search(output)
    if found is None:
        return "the files hold nothing about that."
    number, filename = found.groups()
    return f"{filename} holds it [^{number}]."


def _required_tool(body: dict[str, Any]) -> str | None:
    """The function to call when `tool_choice` demands one, else None."""
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return str(function["name"])
    if choice == "required" and tools:
        return str(tools[0]["function"]["name"])
    return None


async def _stream_events(
    call: base.Call, reply: _Reply, meter: base.UsageMeter
) -> AsyncGenerator[bytes, None]:
    kind = call.kind
    id = shapes.new_id(kind)
    created = int(time.time())
    model = call.upstream_model

    def event(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        chunk = shapes.chunk(
            kind, id=id, created=created, model=model, delta=delta, finish_reason=finish_reason
        )
        return sse.data_event(orjson.dumps(chunk))

    if kind == "chat":
        yield event({"role": "assistant", "content": ""})
    for index, call_ in enumerate(reply.tool_calls):
        function = call_["function"]
        yield event(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call_["id"],
                        "type": "function",
                        "function": {"name": function["name"], "arguments": ""},
                    }
                ]
            }
        )
        yield event(
            {"tool_calls": [{"index": index, "function": {"arguments": function["arguments"]}}]}
        )
    words = reply.text.split(" ") if reply.text else []
    for index, word in enumerate(words):
        yield event({"content": word if index == 0 else " " + word})
    finish = (
        reply.finish_reason
        if kind == "chat"
        else shapes.completion_finish_reason(reply.finish_reason)
    )
    yield event({}, finish)
    meter.usage = reply.usage
    if call.include_usage:
        usage = shapes.usage_chunk(kind, id=id, created=created, model=model, usage=reply.usage)
        yield sse.data_event(orjson.dumps(usage))
    yield sse.DONE_EVENT


def _embeddings(call: base.Call) -> base.Answer:
    body = call.body
    raw_input = body["input"]
    inputs = [raw_input] if isinstance(raw_input, str) else list(raw_input)
    dimensions = body.get("dimensions")
    size = (
        dimensions if isinstance(dimensions, int) and 0 < dimensions <= 4096 else DEFAULT_DIMENSIONS
    )
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    tokens = 0
    for index, item in enumerate(inputs):
        text = item if isinstance(item, str) else orjson.dumps(item).decode()
        tokens += (
            len(text.split())
            if isinstance(item, str)
            else len(item)
            if isinstance(item, list)
            else 1
        )
        vector = _vector(text, size)
        embedding: object = (
            base64.b64encode(struct.pack(f"<{size}f", *vector)).decode() if as_base64 else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    response = {
        "object": "list",
        "data": data,
        "model": call.upstream_model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return base.Answer(orjson.dumps(response), base.Usage(tokens, 0))


def _vector(text: str, size: int) -> list[float]:
    values: list[float] = []
    counter = 0
    while len(values) < size:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((byte - 127.5) / 127.5 for byte in digest)
        counter += 1
    values = values[:size]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]
