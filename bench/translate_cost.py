"""What the API translations cost per relayed event and per request, in this process: the
stream translators fed a chat stream chunk by chunk (as the API layer will feed them the
provider's events), and the whole-answer and request translations.

    .venv/bin/python bench/translate_cost.py [--chunks 200] [--rounds 200]

Chat Completions streams are relayed without parsing, so a translator's time per event is what
`/v1/responses` and `/v1/messages` add over `/v1/chat/completions` for each streamed event,
plus `start` (what the first event brings, the opening events) and `end` (the closing events
and the final response object). The median of the rounds is printed. Asserts nothing."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

import procstats
from runestone_gateway.translate import (
    messages_answer,
    messages_request,
    messages_stream,
    responses_answer,
    responses_request,
    responses_stream,
    streams,
)

TOOLS = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
RESPONSES_REQUEST: dict[str, Any] = {
    "model": "m",
    "instructions": "Be brief.",
    "input": [{"role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo?"}]}],
    "tools": TOOLS,
    "stream": True,
}
MESSAGES_REQUEST: dict[str, Any] = {
    "model": "m",
    "max_tokens": 512,
    "system": "Be brief.",
    "messages": [{"role": "user", "content": "Weather in Oslo?"}],
    "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
    "stream": True,
}


def _event(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "upstream-model",
        "choices": choices,
        **extra,
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def text_stream(chunks: int) -> list[bytes]:
    """A typical answer: one word a chunk."""
    usage = {"prompt_tokens": 30, "completion_tokens": chunks, "total_tokens": 30 + chunks}
    return [
        _event({"role": "assistant", "content": ""}),
        *(_event({"content": " word"}) for _ in range(chunks)),
        _event({}, "stop"),
        _event(None, usage=usage),
        b"data: [DONE]\n\n",
    ]


def tool_stream(chunks: int) -> list[bytes]:
    """Two parallel tool calls whose arguments arrive a few characters a chunk."""
    usage = {"prompt_tokens": 30, "completion_tokens": chunks, "total_tokens": 30 + chunks}
    head = [
        {
            "index": n,
            "id": f"call_{n}",
            "type": "function",
            "function": {"name": "f", "arguments": ""},
        }
        for n in (0, 1)
    ]
    half = chunks // 2
    return [
        _event({"role": "assistant", "content": ""}),
        _event({"tool_calls": [head[0]]}),
        _event({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": "'}}]}),
        *(
            _event({"tool_calls": [{"index": 0, "function": {"arguments": "xyz"}}]})
            for _ in range(half)
        ),
        _event({"tool_calls": [{"index": 0, "function": {"arguments": '"}'}}]}),
        _event({"tool_calls": [head[1]]}),
        _event({"tool_calls": [{"index": 1, "function": {"arguments": '{"b": "'}}]}),
        *(
            _event({"tool_calls": [{"index": 1, "function": {"arguments": "xyz"}}]})
            for _ in range(half)
        ),
        _event({"tool_calls": [{"index": 1, "function": {"arguments": '"}'}}]}),
        _event({}, "tool_calls"),
        _event(None, usage=usage),
        b"data: [DONE]\n\n",
    ]


def time_stream(
    make: Callable[[], streams.ChatStreamReader], events: list[bytes], rounds: int
) -> tuple[float, float, float]:
    """Median microseconds: the first event, each event in between, the last two."""
    first: list[float] = []
    middle: list[float] = []
    last: list[float] = []
    body = events[1:-2]
    for _ in range(rounds):
        translator = make()
        started = time.perf_counter_ns()
        translator.feed(events[0])
        first.append(time.perf_counter_ns() - started)
        started = time.perf_counter_ns()
        for event in body:
            translator.feed(event)
        middle.append((time.perf_counter_ns() - started) / len(body))
        started = time.perf_counter_ns()
        translator.feed(events[-2])
        translator.feed(events[-1])
        last.append(time.perf_counter_ns() - started)
    return (
        statistics.median(first) / 1000,
        statistics.median(middle) / 1000,
        statistics.median(last) / 1000,
    )


def time_call(call: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for _ in range(20):
            call()
        samples.append((time.perf_counter_ns() - started) / 20)
    return statistics.median(samples) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=200, help="content chunks per stream")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    def responses() -> responses_stream.StreamTranslator:
        return responses_stream.StreamTranslator(
            responses_answer.context(RESPONSES_REQUEST, store=False)
        )

    def messages() -> messages_stream.StreamTranslator:
        return messages_stream.StreamTranslator(MESSAGES_REQUEST)

    print(f"{'stream translator':<34} {'start µs':>9} {'µs/event':>9} {'end µs':>9}")
    for name, make in (("responses", responses), ("messages", messages)):
        for kind, events in (
            ("text", text_stream(args.chunks)),
            ("tool calls", tool_stream(args.chunks)),
        ):
            start, each, end = time_stream(make, events, args.rounds)
            print(f"{name + ', ' + kind:<34} {start:>9.2f} {each:>9.2f} {end:>9.2f}")

    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "upstream-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "word " * 60},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 30, "completion_tokens": 60, "total_tokens": 90},
    }
    raw = orjson.dumps(answer)
    context = responses_answer.context(RESPONSES_REQUEST, store=False)
    calls: list[tuple[str, Callable[[], object]]] = [
        (
            "responses request -> chat",
            lambda: orjson.dumps(responses_request.to_chat_request(RESPONSES_REQUEST)),
        ),
        (
            "messages request -> chat",
            lambda: orjson.dumps(messages_request.to_chat_request(MESSAGES_REQUEST)),
        ),
        (
            "chat answer -> response",
            lambda: orjson.dumps(responses_answer.to_response(orjson.loads(raw), context)),
        ),
        (
            "chat answer -> message",
            lambda: orjson.dumps(messages_answer.to_message(orjson.loads(raw), MESSAGES_REQUEST)),
        ),
    ]
    print(f"\n{'whole (parse + translate + dump)':<34} {'µs':>9}")
    for name, call in calls:
        print(f"{name:<34} {time_call(call, args.rounds):>9.2f}")
    print(f"\ncommand: {procstats.command_line()}")


if __name__ == "__main__":
    main()
