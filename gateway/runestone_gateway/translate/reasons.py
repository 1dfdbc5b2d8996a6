"""Why an answer ended, in each API's words: the tables every translation reads.

Chat Completions says `finish_reason`, Responses says `status` with `incomplete_details.reason`,
Anthropic Messages says `stop_reason` (and `stop_sequence`)."""

from __future__ import annotations

from typing import Any

# Anthropic stop_reason -> chat finish_reason, for Anthropic upstreams behind chat shapes.
FINISH_BY_STOP_REASON: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# chat finish_reason -> Anthropic stop_reason, for chat upstreams behind Messages shapes.
# `function_call` is the finish of the legacy functions API, a tool call all the same.
STOP_REASON_BY_FINISH: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# chat finish_reason -> Responses incomplete_details.reason; any other finish is `completed`.
INCOMPLETE_BY_FINISH: dict[str, str] = {
    "length": "max_output_tokens",
    "content_filter": "content_filter",
}


def stop_reason(
    finish_reason: object, matched: object, request: dict[str, Any], has_tool_calls: bool
) -> tuple[str, str | None]:
    """Anthropic's stop_reason and stop_sequence for a chat choice's end.

    `matched` is the choice's `stop_reason`, which vLLM sets to the stop string it met (OpenAI
    itself says only "stop", so a stop sequence it met reads as end_turn). A choice that called
    tools ended for them, whatever finish reason an upstream gave."""
    if has_tool_calls and finish_reason in ("stop", "tool_calls", "function_call", None):
        return "tool_use", None
    if finish_reason == "stop" and isinstance(matched, str):
        sequences = request.get("stop_sequences")
        if isinstance(sequences, list) and matched in sequences:
            return "stop_sequence", matched
    return STOP_REASON_BY_FINISH.get(str(finish_reason), "end_turn"), None
