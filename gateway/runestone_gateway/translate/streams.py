"""Reading a Chat Completions stream and writing named server-sent events: what the stream
translators share.

The API layer hands a translator what the provider's EventStream gave (one or more whole
`data: ...` events, `\\n` line endings) and sends on the bytes it returns. Each chunk is parsed
once with orjson and each event built with orjson.dumps: this runs per relayed event."""

from __future__ import annotations

import abc
from typing import Any

import orjson

from runestone_gateway.translate import ids
from runestone_gateway.translate import usage as usage_

DONE = b"[DONE]"
STREAM_BROKE = "The upstream failed during the stream."
ENDED_EARLY = "The upstream stream ended before its answer was complete."


def named_event(payload: dict[str, Any]) -> bytes:
    """One event named by its payload's `type`, as Responses and Messages streams carry them."""
    kind: str = payload["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def data_of(events: bytes) -> list[bytes]:
    """The data of each whole event in `events`; comment and other field lines are skipped."""
    if events.startswith(b"data: ") and events.find(b"\n") == len(events) - 2:
        return [events[6:-2]]  # the usual case: one event, one data line
    found: list[bytes] = []
    for event in events.split(b"\n\n"):
        lines = [line for line in event.split(b"\n") if line.startswith(b"data:")]
        if lines:
            found.append(b"\n".join(line[6:] if line[5:6] == b" " else line[5:] for line in lines))
    return found


class ToolCall:
    """One streamed tool call, put together from its deltas (they share its `index`)."""

    __slots__ = ("arguments", "id", "index", "name", "state")

    def __init__(self, index: int, id: str, name: str) -> None:
        self.index = index
        self.id = id
        self.name = name
        self.arguments: list[str] = []
        self.state: Any = None  # what the translator keeps about it (an item, a block)

    @property
    def joined_arguments(self) -> str:
        if len(self.arguments) > 1:
            self.arguments = ["".join(self.arguments)]
        return self.arguments[0] if self.arguments else ""


class ChatStreamReader(abc.ABC):
    """Chat chunks in, another API's events out: the parsing and the end of a stream.

    Subclasses write events into `self._out` from the hooks; `feed`, `end` and `fail` return
    the bytes to send (possibly none). `started` says whether any event was made yet: before
    that the API layer may still answer with an HTTP error instead, or try another upstream."""

    def __init__(self) -> None:
        self._out: list[bytes] = []
        self.started = False
        self.closed = False
        self.finish_reason: str | None = None
        self.matched_stop: object = None
        self.usage: usage_.Usage | None = None
        self.tool_calls: dict[int, ToolCall] = {}
        self.output_chars = 0
        """Characters of generated text and tool arguments so far: what an answer without
        usage is charged by."""

    # --- what the API layer calls

    def feed(self, events: bytes) -> bytes:
        """One or more whole chat SSE events, as the provider's stream gave them."""
        for payload in data_of(events):
            self._data(payload)
        return self._take()

    def feed_data(self, payload: bytes) -> bytes:
        """One event's data: a chunk's JSON, or `[DONE]`."""
        self._data(payload)
        return self._take()

    def feed_chunk(self, chunk: dict[str, Any]) -> bytes:
        """One chunk already parsed (a provider that builds chat chunks itself)."""
        self._chunk(chunk)
        return self._take()

    def end(self) -> bytes:
        """The upstream stream ended without an error. Usually `[DONE]` closed the stream
        already; an answer that never said why it finished is a failure."""
        if not self.closed:
            if self.finish_reason is None:
                self._fail(ENDED_EARLY)
            else:
                self._complete()
        return self._take()

    def fail(self, message: str = STREAM_BROKE) -> bytes:
        """The upstream failed: the events that end the client's stream with an error."""
        self._fail(message)
        return self._take()

    # --- hooks

    @abc.abstractmethod
    def _start(self) -> None: ...

    @abc.abstractmethod
    def _text(self, text: str) -> None: ...

    @abc.abstractmethod
    def _refusal(self, text: str) -> None: ...

    @abc.abstractmethod
    def _tool_started(self, call: ToolCall) -> None: ...

    @abc.abstractmethod
    def _tool_arguments(self, call: ToolCall, fragment: str) -> None: ...

    @abc.abstractmethod
    def _completed(self) -> None: ...

    @abc.abstractmethod
    def _failed(self, message: str) -> None: ...

    # --- internals

    def _data(self, payload: bytes) -> None:
        if self.closed:
            return
        if payload == DONE:
            self._complete()
            return
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self._fail("The upstream sent an event that is not JSON.")
            return
        if isinstance(chunk, dict):
            self._chunk(chunk)

    def _chunk(self, chunk: dict[str, Any]) -> None:
        if self.closed:
            return
        if not self.started:
            self.started = True
            self._start()
        if chunk.get("error") is not None:
            self._fail(STREAM_BROKE)
            return
        if chunk.get("usage"):
            self.usage = usage_.from_chat(chunk["usage"])
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list):
            return
        # One choice: a translated request never asks for more. A part in the wrong shape is
        # left out, as chat.reply leaves it out of a whole answer.
        choice = choices[0]
        if not isinstance(choice, dict):
            return
        delta = choice.get("delta")
        if delta and isinstance(delta, dict):
            text = delta.get("content")
            if text and isinstance(text, str):
                self.output_chars += len(text)
                self._text(text)
            refusal = delta.get("refusal")
            if refusal and isinstance(refusal, str):
                self.output_chars += len(refusal)
                self._refusal(refusal)
            calls = delta.get("tool_calls")
            if calls and isinstance(calls, list):
                for call in calls:
                    if isinstance(call, dict):
                        self._tool_delta(call)
        finish = choice.get("finish_reason")
        if finish and isinstance(finish, str):
            self.finish_reason = finish
            self.matched_stop = choice.get("stop_reason")

    def _fail(self, message: str) -> None:
        if self.closed:
            return
        if not self.started:
            self.started = True
            self._start()  # a stream that says it failed is still a whole stream
        self.closed = True
        self._failed(message)

    def _tool_delta(self, delta: dict[str, Any]) -> None:
        index = delta.get("index")
        if not isinstance(index, int):
            index = 0
        function = delta.get("function")
        if not isinstance(function, dict):
            function = {}
        name = function.get("name")
        name = name if isinstance(name, str) else ""
        call = self.tool_calls.get(index)
        if call is None:
            call_id = delta.get("id")
            call_id = call_id if isinstance(call_id, str) and call_id else ids.call()
            call = self.tool_calls[index] = ToolCall(index, call_id, name)
            self._tool_started(call)
        elif name and not call.name:
            call.name = name
        fragment = function.get("arguments")
        if fragment and isinstance(fragment, str):
            self.output_chars += len(fragment)
            call.arguments.append(fragment)
            self._tool_arguments(call, fragment)

    def _complete(self) -> None:
        if not self.started:
            self.started = True
            self._start()
        self.closed = True
        self._completed()

    def _take(self) -> bytes:
        out = self._out
        if not out:
            return b""
        self._out = []
        return out[0] if len(out) == 1 else b"".join(out)
