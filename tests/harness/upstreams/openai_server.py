"""A stand-in OpenAI-compatible server: chat completions (with tool calls), completions and
embeddings, whole or streamed as `data:` events ending in `[DONE]`, plus the model list."""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.upstreams import common, control

EMBEDDING_SIZE = 8


def create_app(behaviour: control.Behaviour, record: control.Record) -> Starlette:
    async def chat(request: Request) -> Response:
        return await _generate(request, "chat")

    async def completions(request: Request) -> Response:
        return await _generate(request, "completion")

    async def _generate(request: Request, kind: str) -> Response:
        body = await common.record(request, record)
        if behaviour.delay_seconds and await common.pause(request, behaviour.delay_seconds, record):
            return Response(status_code=499)
        if behaviour.status != 200:
            return _error(behaviour.status)
        model = body["model"]
        tool_call = behaviour.tool_call if kind == "chat" and body.get("tools") else None
        usage = {"prompt_tokens": 11, "completion_tokens": len(behaviour.text.split(" "))}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not body.get("stream"):
            return JSONResponse(_whole(kind, model, behaviour.text, tool_call, usage))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return common.stream(
            lambda: _events(kind, model, behaviour.text, tool_call, usage, include_usage),
            behaviour,
            record,
        )

    async def embeddings(request: Request) -> Response:
        body = await common.record(request, record)
        if behaviour.delay_seconds and await common.pause(request, behaviour.delay_seconds, record):
            return Response(status_code=499)
        if behaviour.status != 200:
            return _error(behaviour.status)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for index, _ in enumerate(inputs):
            vector = [float(index + 1) / (position + 1) for position in range(EMBEDDING_SIZE)]
            if body.get("encoding_format") == "base64":
                packed = struct.pack(f"<{EMBEDDING_SIZE}f", *vector)
                embedding: Any = base64.b64encode(packed).decode()
            else:
                embedding = vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        usage = {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)}
        return JSONResponse(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )

    async def models(request: Request) -> Response:
        await common.record(request, record)
        if behaviour.models_status != 200:
            return _error(behaviour.models_status)
        listing = [
            {"id": "upstream-model", "object": "model", "created": 0, "owned_by": "stand-in"}
        ]
        return JSONResponse({"object": "list", "data": listing})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


def _error(status: int) -> Response:
    error = {
        "message": f"stand-in answers {status}",
        "type": "invalid_request_error" if status < 500 else "server_error",
        "param": None,
        "code": None,
    }
    return JSONResponse({"error": error}, status_code=status)


def _whole(
    kind: str,
    model: str,
    text: str,
    tool_call: tuple[str, dict[str, Any]] | None,
    usage: dict[str, int],
) -> dict[str, Any]:
    created = int(time.time())
    if kind == "completion":
        choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
        return {
            "id": "cmpl-standin",
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [choice],
            "usage": usage,
        }
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    finish = "stop"
    if tool_call is not None:
        name, arguments = tool_call
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": "call_standin",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ]
        finish = "tool_calls"
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage,
    }


async def _events(
    kind: str,
    model: str,
    text: str,
    tool_call: tuple[str, dict[str, Any]] | None,
    usage: dict[str, int],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    created = int(time.time())
    chat = kind == "chat"
    base = {
        "id": "chatcmpl-standin" if chat else "cmpl-standin",
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": created,
        "model": model,
    }

    def event(payload: dict[str, Any]) -> bytes:
        if include_usage:
            payload = {**payload, "usage": None}
        return b"data: " + json.dumps({**base, **payload}).encode() + b"\n\n"

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        if chat:
            return {
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
            }
        item = {
            "index": 0,
            "text": delta.get("content", ""),
            "finish_reason": finish,
            "logprobs": None,
        }
        return {"choices": [item]}

    if chat:
        yield event(choice({"role": "assistant", "content": ""}))
    if tool_call is not None:
        name, arguments = tool_call
        start = {
            "index": 0,
            "id": "call_standin",
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        yield event(choice({"tool_calls": [start]}))
        for fragment in common.fragments(json.dumps(arguments)):
            yield event(choice({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}))
        yield event(choice({}, "tool_calls"))
    else:
        for word in common.words(text):
            yield event(choice({"content": word}))
        yield event(choice({}, "stop"))
    if include_usage:
        yield b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"
