"""Chat Completions answers as Responses objects, and what the stream translator shares with
the whole answer: the request's echo, the output items, the status a finish reason gives.

The response object repeats its request's settings (`instructions`, `tools`, `tool_choice`,
`temperature`, `text`, `store`, ...) because the SDKs read them back; `Context` works them out
once per request. `model` is the name the client asked for, not the upstream's own."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from runestone_gateway.translate import chat, ids, reasons
from runestone_gateway.translate import usage as usage_


@dataclass(frozen=True, slots=True)
class Context:
    id: str
    created_at: int
    model: str
    echo: dict[str, Any]
    """The fields a response object repeats from its request."""


def context(
    request: dict[str, Any],
    *,
    store: bool,
    response_id: str | None = None,
    created_at: int | None = None,
) -> Context:
    """The context of one Responses request (checked first by `responses_request`). `store`
    is whether the gateway keeps the response: false without a shared store, whatever the
    client asked."""
    parallel = request.get("parallel_tool_calls")
    echo = {
        "background": False,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "metadata": request.get("metadata") or {},
        "parallel_tool_calls": parallel if isinstance(parallel, bool) else True,
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": request.get("reasoning"),
        "store": store,
        "temperature": request.get("temperature"),
        "text": request.get("text") or {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": request.get("tools") or [],
        "top_p": request.get("top_p"),
        "truncation": request.get("truncation") or "disabled",
        "user": request.get("user"),
    }
    return Context(
        id=response_id or ids.response(),
        created_at=int(time.time()) if created_at is None else created_at,
        model=str(request.get("model", "")),
        echo=echo,
    )


def response_object(
    context: Context,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: usage_.Usage | None,
    incomplete_reason: str | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": context.id,
        "object": "response",
        "created_at": context.created_at,
        "status": status,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": error,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "model": context.model,
        "output": output,
        "usage": usage_.to_responses(usage) if usage is not None else None,
    }
    body.update(context.echo)
    return body


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(text: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": text}


def message_item(id: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"id": id, "type": "message", "status": status, "role": "assistant", "content": content}


def function_call_item(
    id: str, call_id: str, name: str, arguments: str, status: str
) -> dict[str, Any]:
    return {
        "id": id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def status_of(finish_reason: object) -> tuple[str, str | None]:
    """The response's status and, when incomplete, why."""
    reason = reasons.INCOMPLETE_BY_FINISH.get(str(finish_reason))
    return ("incomplete", reason) if reason else ("completed", None)


def mark_last(output: list[dict[str, Any]], status: str) -> None:
    """An incomplete response's last item is the one that was cut short."""
    if status == "incomplete" and output:
        output[-1]["status"] = "incomplete"


def to_response(answer: dict[str, Any], context: Context) -> dict[str, Any]:
    """A whole Chat Completions answer as the response object."""
    reply = chat.reply(answer)
    output: list[dict[str, Any]] = []
    if reply.text or reply.refusal or not reply.tool_calls:
        parts = [text_part(reply.text)] if reply.text or not reply.refusal else []
        if reply.refusal:
            parts.append(refusal_part(reply.refusal))
        output.append(message_item(ids.message_item(), parts, "completed"))
    for call in reply.tool_calls:
        output.append(
            function_call_item(
                ids.function_call_item(), call.id, call.name, call.arguments, "completed"
            )
        )
    status, reason = status_of(reply.finish_reason)
    mark_last(output, status)
    return response_object(
        context, status=status, output=output, usage=reply.usage, incomplete_reason=reason
    )
