"""Anthropic Messages stream events to OpenAI chunks: a small state machine, no I/O.

Text deltas become content deltas; a tool_use block becomes a tool call whose streamed
`input_json_delta` fragments arrive as that call's argument deltas; message_delta carries the
stop reason and usage."""

from __future__ import annotations

from typing import Any

from runestone_gateway import config
from runestone_gateway.providers import anthropic_wire, base, shapes


class StreamTranslator:
    """Anthropic stream events in, OpenAI chunks out. `done` once `message_stop` arrived."""

    def __init__(self, kind: config.Kind, created: int) -> None:
        self.kind = kind
        self.created = created
        self.id = ""
        self.model = ""
        self.done = False
        self._usage: dict[str, Any] = {}
        """Anthropic's counts: message_start's, each updated by what message_delta repeats."""
        self._tool_index_by_block: dict[int, int] = {}

    @property
    def usage(self) -> base.Usage:
        return anthropic_wire.usage_of(self._usage)

    def feed(self, event_name: str | None, data: dict[str, Any]) -> list[dict[str, Any]]:
        kind = data.get("type") or event_name
        if kind == "message_start":
            return self._message_start(data.get("message") or {})
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise stream_error(data.get("error"))
        return []  # ping, content_block_stop, and event types added later

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        if finish_reason is not None and self.kind == "completion":
            finish_reason = shapes.completion_finish_reason(finish_reason)
        prefix = "chatcmpl-" if self.kind == "chat" else "cmpl-"
        return shapes.chunk(
            self.kind,
            id=prefix + self.id,
            created=self.created,
            model=self.model,
            delta=delta,
            finish_reason=finish_reason,
        )

    def usage_chunk(self) -> dict[str, Any]:
        prefix = "chatcmpl-" if self.kind == "chat" else "cmpl-"
        return shapes.usage_chunk(
            self.kind, id=prefix + self.id, created=self.created, model=self.model, usage=self.usage
        )

    def _message_start(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        self.id = str(message.get("id", ""))
        self.model = str(message.get("model", ""))
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._usage = dict(usage)
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        block = data.get("content_block") or {}
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if block.get("type") != "tool_use" or self.kind != "chat":
            return []
        tool_index = len(self._tool_index_by_block)
        self._tool_index_by_block[int(data.get("index", 0))] = tool_index
        call = {
            "index": tool_index,
            "id": block.get("id", ""),
            "type": "function",
            "function": {"name": block.get("name", ""), "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            return [self._chunk({"content": delta.get("text", "")})]
        if kind == "input_json_delta":
            tool_index = self._tool_index_by_block.get(int(data.get("index", 0)))
            fragment = delta.get("partial_json", "")
            if tool_index is None or not fragment:
                return []
            call = {"index": tool_index, "function": {"arguments": fragment}}
            return [self._chunk({"tool_calls": [call]})]
        return []  # thinking, signatures and citations have no OpenAI chunk

    def _message_delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        usage = data.get("usage")
        if isinstance(usage, dict):
            self._usage.update(usage)
        reason = (data.get("delta") or {}).get("stop_reason")
        if reason is None:
            return []
        return [self._chunk({}, anthropic_wire.FINISH_REASONS.get(str(reason), "stop"))]


def stream_error(error: object) -> base.UpstreamError:
    """An `error` event inside an Anthropic stream (overloaded, rate limited, ...)."""
    error_type = str(error.get("type")) if isinstance(error, dict) else "unknown"
    kind = (
        base.FailureKind.RATE_LIMITED
        if error_type == "rate_limit_error"
        else base.FailureKind.STATUS
    )
    return base.UpstreamError(kind, f"anthropic stream error: {error_type}")
