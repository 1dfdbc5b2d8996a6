"""OpenAI shapes as the providers that do not speak OpenAI themselves need them: the text of a
request's message, and the answers and chunks they build."""

from __future__ import annotations

import secrets
from typing import Any

from runestone_gateway import config
from runestone_gateway.providers import base
from runestone_gateway.translate import usage as usage_


def text_of(content: object) -> str:
    """The text of a message's `content`: a string, or the text parts of an array."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    return ""


def new_id(kind: config.Kind) -> str:
    prefix = "chatcmpl-" if kind == "chat" else "cmpl-"
    return prefix + secrets.token_hex(12)


def usage_body(usage: base.Usage) -> dict[str, Any]:
    """Chat usage, with the cached and reasoning details OpenAI gives."""
    return usage_.to_chat(usage)


def chat_completion(
    *,
    id: str,
    created: int,
    model: str,
    content: str | None,
    tool_calls: list[dict[str, Any]],
    finish_reason: str,
    usage: base.Usage,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": usage_body(usage),
    }


def text_completion(
    *, id: str, created: int, model: str, text: str, finish_reason: str, usage: base.Usage
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}],
        "usage": usage_body(usage),
    }


def chunk(
    kind: config.Kind,
    *,
    id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """One streamed chunk: a chat delta, or for completions the delta's text."""
    if kind == "chat":
        return {
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            ],
        }
    text = delta.get("content") or ""
    return {
        "id": id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}],
    }


def usage_chunk(
    kind: config.Kind, *, id: str, created: int, model: str, usage: base.Usage
) -> dict[str, Any]:
    """The last chunk of a stream whose client set `stream_options.include_usage`."""
    return {
        "id": id,
        "object": "chat.completion.chunk" if kind == "chat" else "text_completion",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage_body(usage),
    }


def completion_finish_reason(chat_reason: str) -> str:
    """Legacy completions know only stop, length and content_filter."""
    return chat_reason if chat_reason in ("stop", "length", "content_filter") else "stop"
