"""Chat Completions answers as Anthropic Messages, and the pieces the stream translator shares.

`model` is the name the client asked for. `usage.input_tokens` is Anthropic's: the input that
was neither read from nor written to the cache. A chat refusal is text with stop_reason
`refusal`; a tool call's arguments that are not a JSON object (a call cut short by max_tokens)
become the empty input `{}`."""

from __future__ import annotations

from typing import Any

import orjson

from runestone_gateway.translate import ids, reasons
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
    chat: dict[str, Any], request: dict[str, Any], *, message_id: str | None = None
) -> dict[str, Any]:
    """A whole Chat Completions answer as the Message a Messages request gets."""
    choices = chat.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    answer = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    text = (answer.get("content") or "") if isinstance(answer.get("content"), str) else ""
    refusal = answer.get("refusal")
    text += refusal if isinstance(refusal, str) else ""
    if text:
        content.append({"type": "text", "text": text})
    calls = answer.get("tool_calls") or []
    for call in calls:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or ids.call(),
                "name": str(function.get("name") or ""),
                "input": tool_input(str(function.get("arguments") or "")),
            }
        )
    body = message_shell(
        message_id or ids.message_item(),
        str(request.get("model", "")),
        usage_.from_chat(chat.get("usage")),
        content,
    )
    body["stop_reason"], body["stop_sequence"] = reasons.stop_reason(
        choice.get("finish_reason"), choice.get("stop_reason"), request, bool(calls)
    )
    return body
