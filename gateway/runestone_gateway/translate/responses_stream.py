"""A Chat Completions stream as a Responses event stream: a state machine fed chunk by chunk.

Events carry a running `sequence_number`. Output items open as their first delta arrives
(`output_item.added`, `content_part.added`) and stream their deltas at once; they all close at
the end of the answer (`.done` events in output order), because chat streams may interleave
parallel tool calls and an item closed early could not take a late delta. Then comes
`response.completed` (or `.incomplete`) with the whole response, usage included: the translated
request asks for the usage chunk, which arrives after the finish reason and before `[DONE]`."""

from __future__ import annotations

from typing import Any

from runestone_gateway.translate import ids, responses_answer, streams


class _Message:
    """The one output message: its content parts, each built from fragments."""

    __slots__ = ("id", "output_index", "parts", "refusal_index", "text_index")

    def __init__(self, output_index: int) -> None:
        self.id = ids.message_item()
        self.output_index = output_index
        self.parts: list[tuple[str, list[str]]] = []  # ("output_text" | "refusal", fragments)
        self.text_index: int | None = None
        self.refusal_index: int | None = None


class _Function:
    __slots__ = ("call", "id", "output_index")

    def __init__(self, call: streams.ToolCall, output_index: int) -> None:
        self.call = call
        self.id = ids.function_call_item()
        self.output_index = output_index


class StreamTranslator(streams.ChatStreamReader):
    """Chat chunks in, Responses events out (SSE bytes). After the end, `usage` is what to
    charge and `response` the final response object (to store)."""

    def __init__(self, context: responses_answer.Context) -> None:
        super().__init__()
        self.context = context
        self.response: dict[str, Any] | None = None
        self._sequence = 0
        self._items: list[_Message | _Function] = []
        self._message: _Message | None = None

    def _emit(self, payload: dict[str, Any]) -> None:
        payload["sequence_number"] = self._sequence
        self._sequence += 1
        self._out.append(streams.named_event(payload))

    def _start(self) -> None:
        response = responses_answer.response_object(
            self.context, status="in_progress", output=[], usage=None
        )
        self._emit({"type": "response.created", "response": response})
        self._emit({"type": "response.in_progress", "response": response})

    # --- deltas

    def _text(self, text: str) -> None:
        message = self._message or self._open_message()
        index = message.text_index
        if index is None:
            index = message.text_index = self._open_part(message, responses_answer.text_part(""))
        message.parts[index][1].append(text)
        self._emit(
            {
                "type": "response.output_text.delta",
                "item_id": message.id,
                "output_index": message.output_index,
                "content_index": index,
                "delta": text,
                "logprobs": [],
            }
        )

    def _refusal(self, text: str) -> None:
        message = self._message or self._open_message()
        index = message.refusal_index
        if index is None:
            part = responses_answer.refusal_part("")
            index = message.refusal_index = self._open_part(message, part)
        message.parts[index][1].append(text)
        self._emit(
            {
                "type": "response.refusal.delta",
                "item_id": message.id,
                "output_index": message.output_index,
                "content_index": index,
                "delta": text,
            }
        )

    def _tool_started(self, call: streams.ToolCall) -> None:
        function = _Function(call, len(self._items))
        call.state = function
        self._items.append(function)
        item = responses_answer.function_call_item(
            function.id, call.id, call.name, "", "in_progress"
        )
        self._emit(
            {
                "type": "response.output_item.added",
                "output_index": function.output_index,
                "item": item,
            }
        )

    def _tool_arguments(self, call: streams.ToolCall, fragment: str) -> None:
        function: _Function = call.state
        self._emit(
            {
                "type": "response.function_call_arguments.delta",
                "item_id": function.id,
                "output_index": function.output_index,
                "delta": fragment,
            }
        )

    def _open_message(self) -> _Message:
        message = self._message = _Message(len(self._items))
        self._items.append(message)
        item = responses_answer.message_item(message.id, [], "in_progress")
        self._emit(
            {
                "type": "response.output_item.added",
                "output_index": message.output_index,
                "item": item,
            }
        )
        return message

    def _open_part(self, message: _Message, part: dict[str, Any]) -> int:
        index = len(message.parts)
        message.parts.append((part["type"], []))
        self._emit(
            {
                "type": "response.content_part.added",
                "item_id": message.id,
                "output_index": message.output_index,
                "content_index": index,
                "part": part,
            }
        )
        return index

    # --- the end

    def _completed(self) -> None:
        if not self._items:  # an empty answer is an empty message, as a whole answer gives
            self._open_part(self._open_message(), responses_answer.text_part(""))
        status, reason = responses_answer.status_of(self.finish_reason)
        last = len(self._items) - 1
        output = [
            self._close(item, "incomplete" if status == "incomplete" and n == last else "completed")
            for n, item in enumerate(self._items)
        ]
        self.response = responses_answer.response_object(
            self.context, status=status, output=output, usage=self.usage, incomplete_reason=reason
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        self._emit({"type": kind, "response": self.response})

    def _failed(self, message: str) -> None:
        output = [_item(item, "incomplete") for item in self._items]
        self.response = responses_answer.response_object(
            self.context,
            status="failed",
            output=output,
            usage=self.usage,
            error={"code": "server_error", "message": message},
        )
        self._emit({"type": "response.failed", "response": self.response})

    def _close(self, item: _Message | _Function, status: str) -> dict[str, Any]:
        """The `.done` events of one item, ending with its whole output item."""
        body = _item(item, status)
        where = {"item_id": item.id, "output_index": item.output_index}
        if isinstance(item, _Function):
            arguments = body["arguments"]
            self._emit(
                {"type": "response.function_call_arguments.done", **where, "arguments": arguments}
            )
        else:
            for index, part in enumerate(body["content"]):
                if part["type"] == "output_text":
                    done = {
                        "type": "response.output_text.done",
                        "text": part["text"],
                        "logprobs": [],
                    }
                else:
                    done = {"type": "response.refusal.done", "refusal": part["refusal"]}
                self._emit({**done, **where, "content_index": index})
                self._emit(
                    {
                        "type": "response.content_part.done",
                        **where,
                        "content_index": index,
                        "part": part,
                    }
                )
        self._emit(
            {"type": "response.output_item.done", "output_index": item.output_index, "item": body}
        )
        return body


def _item(item: _Message | _Function, status: str) -> dict[str, Any]:
    """The output item as it stands."""
    if isinstance(item, _Function):
        call = item.call
        return responses_answer.function_call_item(
            item.id, call.id, call.name, call.joined_arguments, status
        )
    parts = [
        responses_answer.text_part("".join(fragments))
        if kind == "output_text"
        else responses_answer.refusal_part("".join(fragments))
        for kind, fragments in item.parts
    ]
    return responses_answer.message_item(item.id, parts, status)
