"""A Chat Completions stream as an Anthropic Messages event stream: a state machine fed chunk
by chunk (`message_start`, `ping`, content blocks, `message_delta` with stop reason and usage,
`message_stop`; an `error` event when the upstream fails).

Anthropic's content blocks run one at a time (start, deltas, stop), while a chat stream may
interleave parallel tool calls. A new block starts at once when the open one is done: text is
done when something else begins, a tool call when its arguments so far are a whole JSON object
(checked only at such a switch). Otherwise the new block waits, gathering its fragments, and
is sent whole after the last live block: the events always keep Anthropic's order."""

from __future__ import annotations

from typing import Any

import orjson

from runestone_gateway.translate import ids, messages_answer, reasons, streams
from runestone_gateway.translate import usage as usage_

PING = streams.named_event({"type": "ping"})
NEW, OPEN, WAITING, CLOSED = range(4)


class _Block:
    __slots__ = ("call", "fragments", "index", "state")

    def __init__(self, call: streams.ToolCall | None = None) -> None:
        self.call = call  # None for a text block
        self.fragments: list[str] = []  # a waiting text block's text
        self.index = -1
        self.state = NEW


class StreamTranslator(streams.ChatStreamReader):
    """Chat chunks in, Messages events out (SSE bytes); `usage` is what to charge at the end.

    `input_tokens` is the estimate `message_start` carries; the upstream's count follows in
    `message_delta`, which the SDKs take over it."""

    def __init__(
        self, request: dict[str, Any], *, message_id: str | None = None, input_tokens: int = 0
    ) -> None:
        super().__init__()
        self.request = request
        self.message_id = message_id or ids.message_item()
        self._input_tokens = input_tokens
        self._open: _Block | None = None
        self._waiting: list[_Block] = []
        self._text_block: _Block | None = None
        self._next_index = 0

    def _emit(self, payload: dict[str, Any]) -> None:
        self._out.append(streams.named_event(payload))

    def _start(self) -> None:
        estimate = usage_.Usage(self._input_tokens, 0)
        shell = messages_answer.message_shell(
            self.message_id, str(self.request.get("model", "")), estimate, []
        )
        self._emit({"type": "message_start", "message": shell})
        self._out.append(PING)

    # --- deltas

    def _text(self, text: str) -> None:
        block = self._text_block
        if block is None or block.state == CLOSED:
            block = self._text_block = _Block()
        self._fragment(block, text)

    _refusal = _text  # a refusal is text, and the stop reason says `refusal`

    def _tool_started(self, call: streams.ToolCall) -> None:
        call.state = _Block(call)
        self._fragment(call.state, "")

    def _tool_arguments(self, call: streams.ToolCall, fragment: str) -> None:
        self._fragment(call.state, fragment)

    def _fragment(self, block: _Block, fragment: str) -> None:
        if block.state == NEW:
            if self._waiting or not self._may_close(self._open):
                block.state = WAITING
                self._waiting.append(block)
            else:
                self._stop()
                self._begin(block)
        if block.state == WAITING:
            if fragment and block.call is None:
                block.fragments.append(fragment)  # a tool call keeps its own arguments
        else:
            # OPEN, or CLOSED for a fragment after a whole JSON object, which only a broken
            # upstream sends: it goes out anyway rather than being lost.
            self._delta(block, fragment)

    def _may_close(self, block: _Block | None) -> bool:
        if block is None or block.call is None:
            return True
        try:
            return isinstance(orjson.loads(block.call.joined_arguments), dict)
        except orjson.JSONDecodeError:
            return False

    def _begin(self, block: _Block) -> None:
        block.index = self._next_index
        self._next_index += 1
        block.state = OPEN
        self._open = block
        call = block.call
        content: dict[str, Any] = (
            {"type": "text", "text": ""}
            if call is None
            else {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        )
        self._emit({"type": "content_block_start", "index": block.index, "content_block": content})

    def _delta(self, block: _Block, fragment: str) -> None:
        if not fragment:
            return
        delta = (
            {"type": "text_delta", "text": fragment}
            if block.call is None
            else {"type": "input_json_delta", "partial_json": fragment}
        )
        self._emit({"type": "content_block_delta", "index": block.index, "delta": delta})

    def _stop(self) -> None:
        block = self._open
        if block is not None:
            block.state = CLOSED
            self._open = None
            self._emit({"type": "content_block_stop", "index": block.index})

    # --- the end

    def _completed(self) -> None:
        self._stop()
        for block in self._waiting:
            self._begin(block)
            call = block.call
            self._delta(block, "".join(block.fragments) if call is None else call.joined_arguments)
            self._stop()
        self._waiting = []
        stop_reason, stop_sequence = reasons.stop_reason(
            self.finish_reason, self.matched_stop, self.request, bool(self.tool_calls)
        )
        usage = usage_.to_messages(self.usage) if self.usage else {"output_tokens": 0}
        self._emit(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                "usage": usage,
            }
        )
        self._emit({"type": "message_stop"})

    def _failed(self, message: str) -> None:
        self._emit({"type": "error", "error": {"type": "api_error", "message": message}})
