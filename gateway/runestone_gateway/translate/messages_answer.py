"""Chat Completions answers as Anthropic Messages, and the pieces the stream translator shares.

`model` is the name the client asked for. `usage.input_tokens` is Anthropic's: the input that
was neither read from nor written to the cache. A chat refusal is text with stop_reason
`refusal`; a tool call's arguments that are not a JSON object (a call cut short by max_tokens)
become the empty input `{}`."""

from __future__ import annotations

from typing import Any

import orjson

from runestone_gateway.translate import chat, ids, reasons
from runestone_gateway.translate import usage as usage_

EMPTY_USAGE = usage_.Usage(0, 0)


def message_shell(
    message_id: str, model: str, usage: usage_.Usage | None, content: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage_.to_messages(usage or EMPTY_USAGE),
    }


def tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def to_message(
    answer: dict[str, Any], request: dict[str, Any], *, message_id: str | None = None
) -> dict[str, Any]:
    """A whole Chat Completions answer as the Message a Messages request gets."""
    reply = chat.reply(answer)
    content: list[dict[str, Any]] = []
    if reply.text or reply.refusal:
        content.append({"type": "text", "text": reply.text + reply.refusal})
    for call in reply.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": tool_input(call.arguments),
            }
        )
    body = message_shell(
        message_id or ids.message_item(), str(request.get("model", "")), reply.usage, content
    )
    body["stop_reason"], body["stop_sequence"] = reasons.stop_reason(
        reply.finish_reason, reply.matched_stop, request, bool(reply.tool_calls)
    )
    return body
