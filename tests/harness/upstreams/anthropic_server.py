"""A stand-in for Anthropic's Messages API: `POST /v1/messages`, whole or streamed as named
events (message_start, content_block_start/delta/stop with text_delta and input_json_delta,
message_delta with the stop reason and usage, message_stop, ping), plus `GET /v1/models`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.upstreams import common, control

INPUT_TOKENS = 13


def create_app(behaviour: control.Behaviour, record: control.Record) -> Starlette:
    async def messages(request: Request) -> Response:
        body = await common.record(request, record)
        if behaviour.delay_seconds and await common.pause(request, behaviour.delay_seconds, record):
            return Response(status_code=499)
        if behaviour.status != 200:
            return _error(behaviour.status)
        if not isinstance(body.get("max_tokens"), int) or not body.get("messages"):
            return _error(400, "max_tokens and messages are required")
        tool_call = behaviour.tool_call if body.get("tools") else None
        if body.get("stream"):
            return common.stream(lambda: _events(body, behaviour, tool_call), behaviour, record)
        return JSONResponse(_message(body, behaviour, tool_call))

    async def models(request: Request) -> Response:
        await common.record(request, record)
        if behaviour.models_status != 200:
            return _error(behaviour.models_status)
        listing = [
            {
                "type": "model",
                "id": "claude-stand-in",
                "display_name": "Stand-in",
                "created_at": "2025-01-01T00:00:00Z",
            }
        ]
        return JSONResponse({"data": listing, "has_more": False, "first_id": None, "last_id": None})

    return Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


def _error(status: int, message: str | None = None) -> Response:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }
    error = {
        "type": kinds.get(status, "api_error"),
        "message": message or f"stand-in answers {status}",
    }
    return JSONResponse({"type": "error", "error": error}, status_code=status)


def _stop_reason(behaviour: control.Behaviour, tool_call: Any) -> str:
    if behaviour.stop_reason:
        return behaviour.stop_reason
    return "tool_use" if tool_call is not None else "end_turn"


def _output_tokens(behaviour: control.Behaviour) -> int:
    return len(behaviour.text.split(" "))


def _message(body: dict[str, Any], behaviour: control.Behaviour, tool_call: Any) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": behaviour.text}]
    if tool_call is not None:
        name, arguments = tool_call
        content.append(
            {"type": "tool_use", "id": "toolu_standin", "name": name, "input": arguments}
        )
    return {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": _stop_reason(behaviour, tool_call),
        "stop_sequence": None,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": _output_tokens(behaviour)},
    }


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n".encode()


async def _events(
    body: dict[str, Any], behaviour: control.Behaviour, tool_call: Any
) -> AsyncIterator[bytes]:
    message = {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1},
    }
    if behaviour.stream_error is not None:
        failure = {"type": behaviour.stream_error, "message": "The stand-in is overloaded."}
        yield _event("error", {"error": failure})
        return
    yield _event("message_start", {"message": message})
    yield _event("ping", {})
    yield _event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
    for word in common.words(behaviour.text):
        yield _event(
            "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word}}
        )
    yield _event("content_block_stop", {"index": 0})
    if tool_call is not None:
        name, arguments = tool_call
        block = {"type": "tool_use", "id": "toolu_standin", "name": name, "input": {}}
        yield _event("content_block_start", {"index": 1, "content_block": block})
        for fragment in common.fragments(json.dumps(arguments)):
            json_delta = {"type": "input_json_delta", "partial_json": fragment}
            yield _event("content_block_delta", {"index": 1, "delta": json_delta})
        yield _event("content_block_stop", {"index": 1})
    stop: dict[str, Any] = {
        "stop_reason": _stop_reason(behaviour, tool_call),
        "stop_sequence": None,
    }
    usage = {"output_tokens": _output_tokens(behaviour)}
    yield _event("message_delta", {"delta": stop, "usage": usage})
    yield _event("message_stop", {})
