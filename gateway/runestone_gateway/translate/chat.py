"""What the answer translations read of a whole Chat Completions answer: its first choice (a
translated request never asks for more), read defensively. An upstream's answer is not the
client's request: a part of it in the wrong shape is left out, never raised about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runestone_gateway.translate import ids
from runestone_gateway.translate import usage as usage_


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    refusal: str
    tool_calls: list[ToolCall]
    finish_reason: object
    matched_stop: object
    """vLLM's `stop_reason`: the stop string that ended the answer, if one did."""
    usage: usage_.Usage | None


def reply(answer: dict[str, Any]) -> Reply:
    choices = answer.get("choices")
    choice = _dict(choices[0] if isinstance(choices, list) and choices else None)
    message = _dict(choice.get("message"))
    refusal = message.get("refusal")
    calls = message.get("tool_calls")
    return Reply(
        text=_text(message.get("content")),
        refusal=refusal if isinstance(refusal, str) else "",
        tool_calls=[_tool_call(call) for call in calls if isinstance(call, dict)]
        if isinstance(calls, list)
        else [],
        finish_reason=choice.get("finish_reason"),
        matched_stop=choice.get("stop_reason"),
        usage=usage_.from_chat(answer.get("usage")),
    )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # a few servers answer in parts
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _tool_call(call: dict[str, Any]) -> ToolCall:
    function = _dict(call.get("function"))
    call_id = call.get("id")
    return ToolCall(
        id=call_id if isinstance(call_id, str) and call_id else ids.call(),
        name=str(function.get("name") or ""),
        arguments=str(function.get("arguments") or ""),
    )
