"""A streamed Responses answer that used `file_search`, as OpenAI streams one: the searches'
`file_search_call` items and their events first (`output_item.added`,
`response.file_search_call.in_progress`, `.searching`, `.completed`, `output_item.done`), then the
answer's own events with their output indexes moved past them, citation markers taken out of the
text deltas (a marker split across deltas is held until it is whole) and announced as
`response.output_text.annotation.added`, and every event numbered again in order.

`CitingShaper` does this to the events of another shaper (the chat translator, or the Responses
passthrough); `replayed` makes the whole event sequence of a finished response object, for an
answer the model gave without streaming (it answered in the round that could have searched)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from runestone_gateway.translate import file_search, streams
from runestone_gateway.translate import usage as usage_

FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
RESPONSE_EVENTS = frozenset({"response.created", "response.queued", "response.in_progress", *FINAL})


class Shaper(Protocol):
    @property
    def closed(self) -> bool: ...

    @property
    def usage(self) -> usage_.Usage | None: ...

    @property
    def output_chars(self) -> int: ...

    def feed(self, events: bytes) -> bytes: ...

    def end(self) -> bytes: ...

    def fail(self, message: str = ...) -> bytes: ...


def call_events(item: dict[str, Any], output_index: int) -> list[dict[str, Any]]:
    """The events of one finished search, as OpenAI streams them."""
    where = {"output_index": output_index, "item_id": item["id"]}
    return [
        {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": {**item, "status": "in_progress", "results": None},
        },
        {"type": "response.file_search_call.in_progress", **where},
        {"type": "response.file_search_call.searching", **where},
        {"type": "response.file_search_call.completed", **where},
        {"type": "response.output_item.done", "output_index": output_index, "item": item},
    ]


class CitingShaper:
    """Another shaper's events with the searches' items before them and citations mapped.
    `prior` is what the rounds before the streamed one used; `echo` the response fields the
    client's request decides (its tools, tool choice)."""

    def __init__(
        self,
        inner: Shaper,
        calls: Sequence[dict[str, Any]],
        sources: Sequence[dict[str, Any]],
        prior: usage_.Usage,
        echo: dict[str, Any],
    ) -> None:
        self._inner = inner
        self._calls = list(calls)
        self._sources = sources
        self._prior = prior
        self._echo = echo
        self._sequence = 0
        self._announced = False
        self._citers: dict[tuple[str, int], file_search.Citer] = {}
        self._hidden: set[str] = set()
        self.response: dict[str, Any] | None = None

    @property
    def closed(self) -> bool:
        return self._inner.closed

    @property
    def usage(self) -> usage_.Usage | None:
        used = self._inner.usage
        return None if used is None else usage_.add(self._prior, used)

    @property
    def output_chars(self) -> int:
        return self._inner.output_chars

    def feed(self, events: bytes) -> bytes:
        return self._rewrite(self._inner.feed(events))

    def end(self) -> bytes:
        return self._rewrite(self._inner.end())

    def fail(self, message: str = streams.STREAM_BROKE) -> bytes:
        return self._rewrite(self._inner.fail(message))

    def _rewrite(self, events: bytes) -> bytes:
        out: list[dict[str, Any]] = []
        for event in events.split(b"\n\n"):
            start = event.find(b"data:")
            if start < 0:
                continue
            try:
                payload = orjson.loads(event[start + 5 :])
            except orjson.JSONDecodeError:
                continue
            if isinstance(payload, dict) and isinstance(payload.get("type"), str):
                self._event(payload, out)
        return b"".join(self._numbered(payload) for payload in out)

    def _numbered(self, payload: dict[str, Any]) -> bytes:
        payload["sequence_number"] = self._sequence
        self._sequence += 1
        return streams.named_event(payload)

    def _event(self, payload: dict[str, Any], out: list[dict[str, Any]]) -> None:
        kind = payload["type"]
        if kind in RESPONSE_EVENTS:
            self._response_event(payload, out)
            return
        item = payload.get("item")
        item_id = payload.get("item_id") or (item.get("id") if isinstance(item, dict) else None)
        if file_search.is_search_call(item):
            self._hidden.add(str(item_id))
        if item_id in self._hidden:
            return  # the model's own call of the search function is not the client's
        self._announce(out)
        if isinstance(payload.get("output_index"), int):
            payload["output_index"] += len(self._calls)
        if kind == "response.output_text.delta":
            self._delta(payload, out)
            return
        if kind == "response.output_text.done":
            self._text_done(payload, out)
        elif kind == "response.content_part.done":
            payload["part"] = file_search.cited_part(payload.get("part"), self._sources)
        elif kind == "response.output_item.done" and isinstance(item, dict):
            payload["item"] = file_search.answered([item], [], self._sources)[0]
        out.append(payload)

    def _response_event(self, payload: dict[str, Any], out: list[dict[str, Any]]) -> None:
        response = payload.get("response")
        if isinstance(response, dict):
            response.update(self._echo)
            if payload["type"] in FINAL:
                output = response.get("output")
                response["output"] = file_search.answered(
                    output if isinstance(output, list) else [], self._calls, self._sources
                )
                if self.usage is not None:
                    response["usage"] = usage_.to_responses(self.usage)
                self.response = response
        if payload["type"] in FINAL:
            self._announce(out)
        out.append(payload)
        if payload["type"] == "response.in_progress":
            self._announce(out)

    def _announce(self, out: list[dict[str, Any]]) -> None:
        if self._announced:
            return
        self._announced = True
        for index, item in enumerate(self._calls):
            out.extend(call_events(item, index))

    def _citer(self, payload: dict[str, Any]) -> file_search.Citer:
        key = (str(payload.get("item_id")), int(payload.get("content_index") or 0))
        citer = self._citers.get(key)
        if citer is None:
            citer = self._citers[key] = file_search.Citer(self._sources)
        return citer

    def _delta(self, payload: dict[str, Any], out: list[dict[str, Any]]) -> None:
        citer = self._citer(payload)
        known = len(citer.annotations)
        delta = citer.feed(str(payload.get("delta") or ""))
        if delta:
            out.append({**payload, "delta": delta})
        self._annotated(payload, citer, known, out)

    def _text_done(self, payload: dict[str, Any], out: list[dict[str, Any]]) -> None:
        citer = self._citer(payload)
        rest = citer.end()
        if rest:
            delta = {
                "type": "response.output_text.delta",
                **_where(payload),
                "delta": rest,
                "logprobs": [],
            }
            out.append(delta)
        payload["text"], _ = file_search.cite(str(payload.get("text") or ""), self._sources)

    def _annotated(
        self,
        payload: dict[str, Any],
        citer: file_search.Citer,
        known: int,
        out: list[dict[str, Any]],
    ) -> None:
        for index in range(known, len(citer.annotations)):
            out.append(
                {
                    "type": "response.output_text.annotation.added",
                    **_where(payload),
                    "annotation_index": index,
                    "annotation": citer.annotations[index],
                }
            )


def _where(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "item_id": payload.get("item_id"),
        "output_index": payload.get("output_index"),
        "content_index": payload.get("content_index"),
    }


def replayed(response: dict[str, Any]) -> bytes:
    """The events of a finished response object, in the order OpenAI streams them."""
    events: list[dict[str, Any]] = []
    started = {**response, "status": "in_progress", "output": [], "usage": None}
    events.append({"type": "response.created", "response": started})
    events.append({"type": "response.in_progress", "response": started})
    for index, item in enumerate(response.get("output") or []):
        if item.get("type") == "file_search_call":
            events += call_events(item, index)
            continue
        events.append(
            {"type": "response.output_item.added", "output_index": index, "item": _opened(item)}
        )
        where = {"item_id": item.get("id"), "output_index": index}
        if item.get("type") == "message":
            for part_index, part in enumerate(item.get("content") or []):
                events += _part_events(part, {**where, "content_index": part_index})
        elif item.get("type") == "function_call":
            arguments = item.get("arguments", "")
            events.append(
                {"type": "response.function_call_arguments.delta", **where, "delta": arguments}
            )
            events.append(
                {"type": "response.function_call_arguments.done", **where, "arguments": arguments}
            )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    status = response.get("status")
    final = "response.incomplete" if status == "incomplete" else "response.completed"
    events.append({"type": final, "response": response})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return b"".join(streams.named_event(event) for event in events)


def _opened(item: dict[str, Any]) -> dict[str, Any]:
    opened = {**item, "status": "in_progress"}
    if item.get("type") == "message":
        opened["content"] = []
    elif item.get("type") == "function_call":
        opened["arguments"] = ""
    return opened


def _part_events(part: dict[str, Any], where: dict[str, Any]) -> list[dict[str, Any]]:
    if part.get("type") == "output_text":
        empty = {**part, "text": "", "annotations": []}
        text = part.get("text", "")
        events = [
            {"type": "response.content_part.added", **where, "part": empty},
            {"type": "response.output_text.delta", **where, "delta": text, "logprobs": []},
        ]
        for index, annotation in enumerate(part.get("annotations") or []):
            events.append(
                {
                    "type": "response.output_text.annotation.added",
                    **where,
                    "annotation_index": index,
                    "annotation": annotation,
                }
            )
        events.append({"type": "response.output_text.done", **where, "text": text, "logprobs": []})
    else:
        refusal = part.get("refusal", "")
        events = [
            {"type": "response.content_part.added", **where, "part": {**part, "refusal": ""}},
            {"type": "response.refusal.delta", **where, "delta": refusal},
            {"type": "response.refusal.done", **where, "refusal": refusal},
        ]
    events.append({"type": "response.content_part.done", **where, "part": part})
    return events
