"""A minimal, fast upstream for gateway benchmarks: every POST is answered after a fixed latency,
whole or streamed, in the API its path names: a chat completion (chunks ending in `[DONE]`) on
any path but these two, a Responses object (events ending in `response.completed`) on
`/v1/responses`, an Anthropic Message (events ending in `message_stop`) on `/v1/messages`.

    .venv/bin/python bench/fast_upstream.py --port 9000 [--latency-ms 5] [--chunks 8] \
        [--provider-headers]

A raw asyncio protocol with httptools parsing and pre-rendered answers, so that one process
answers far more requests per second than any gateway in front of it (about 8,000 a second at
concurrency 64 here): it is the floor of the measurement, never its bottleneck. It reads the
path and `"stream": true` from the body and nothing else; `GET` on any path answers a model
listing (for gateways' health checks). Its answers carry only the headers that frame them, unless
`--provider-headers` adds the score of others a hosted provider sends with every answer
(PROVIDER_HEADERS), which every client and gateway in front of it then has to read past.

It runs on the standard event loop by default (`--loop uvloop` is there to compare): uvloop
keeps time in whole milliseconds of a clock read once per loop turn, so its 5 ms timer fires
anywhere from 4 to 5 ms after the request arrived, and at concurrency 1 the closed loop falls
into step with its ticks. The direct answer then took 4.4 ms, and a gateway's added fraction of
a millisecond was partly swallowed and partly doubled depending on the phase. The standard loop
waits out the full 5 ms from the request's arrival (plus the kernel's timer slack)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import cast

import httptools
import orjson
import uvloop

MODEL = "bench-model"
PROVIDER_HEADERS = (
    b"date: Fri, 04 Dec 2026 06:00:00 GMT\r\n"
    b"connection: keep-alive\r\n"
    b"access-control-expose-headers: X-Request-ID\r\n"
    b"openai-organization: org-bench\r\n"
    b"openai-processing-ms: 412\r\n"
    b"openai-project: proj_0123456789abcdefghijklmn\r\n"
    b"openai-version: 2020-10-01\r\n"
    b"x-envoy-upstream-service-time: 415\r\n"
    b"x-ratelimit-limit-requests: 10000\r\n"
    b"x-ratelimit-limit-tokens: 30000000\r\n"
    b"x-ratelimit-remaining-requests: 9999\r\n"
    b"x-ratelimit-remaining-tokens: 29999984\r\n"
    b"x-ratelimit-reset-requests: 6ms\r\n"
    b"x-ratelimit-reset-tokens: 0s\r\n"
    b"x-request-id: req_0123456789abcdef0123456789abcdef\r\n"
    b"strict-transport-security: max-age=31536000; includeSubDomains; preload\r\n"
    b"cf-cache-status: DYNAMIC\r\n"
    b"set-cookie: __cf_bm=0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghij"
    b"-1733292000-1.0.1.1;"
    b" path=/; expires=Fri, 04-Dec-26 06:30:00 GMT; domain=.provider.example; HttpOnly; Secure;"
    b" SameSite=None\r\n"
    b"set-cookie: _cfuvid=0123456789abcdefghijklmnopqrstuvwxyz0123-1733292000000-0.0.1.1;"
    b" path=/; domain=.provider.example; HttpOnly; Secure; SameSite=None\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"server: cloudflare\r\n"
    b"cf-ray: 8ed0123456789abc-FRA\r\n"
    b'alt-svc: h3=":443"; ma=86400\r\n'
)
"""What a hosted provider sends besides the framing headers, the shape of OpenAI's API: date,
rate-limit state, tracing, CDN cookies (values made up, sizes alike)."""


@dataclass(frozen=True)
class Rendered:
    """One API's answers, rendered once."""

    whole: bytes  # a complete non-streamed answer (status line, headers, body)
    stream_head: bytes  # status line, headers and the first chunk of a stream
    stream_tail: bytes  # the remaining chunks (usage, the end) and the last chunk


@dataclass(frozen=True)
class Answers:
    """Every byte the upstream sends, rendered once."""

    chat: Rendered
    by_path: dict[bytes, Rendered]  # the other APIs, by request path
    models: bytes
    latency: float
    gap: float  # seconds between the first streamed event and the rest


def _response(body: bytes, extra: bytes) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    return head + body


def _chunked(payload: bytes) -> bytes:
    return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"


def _event(document: object) -> bytes:
    return b"data: " + orjson.dumps(document) + b"\n\n"


def _named(document: dict[str, object]) -> bytes:
    return b"event: " + str(document["type"]).encode() + b"\n" + _event(document)


def _rendered(whole: object, events: list[bytes], extra_headers: bytes) -> Rendered:
    stream_head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        + extra_headers
        + b"transfer-encoding: chunked\r\n\r\n"
        + _chunked(events[0])
    )
    stream_tail = b"".join(_chunked(event) for event in events[1:]) + b"0\r\n\r\n"
    return Rendered(_response(orjson.dumps(whole), extra_headers), stream_head, stream_tail)


def render_responses(chunks: int, extra_headers: bytes) -> Rendered:
    """OpenAI's Responses API: the response object, or its events, text in `chunks` deltas."""
    text = " ".join(["word"] * chunks)
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    item = {"id": "msg_bench", "type": "message", "status": "completed", "role": "assistant"}
    usage = {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": chunks,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 12 + chunks,
    }

    def response(status: str, output: list[object], with_usage: bool) -> dict[str, object]:
        return {
            "id": "resp_bench",
            "object": "response",
            "created_at": 1700000000,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "model": MODEL,
            "output": output,
            "parallel_tool_calls": True,
            "store": False,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage if with_usage else None,
        }

    done = {**item, "content": [part]}
    where = {"item_id": "msg_bench", "output_index": 0, "content_index": 0}
    payloads: list[dict[str, object]] = [
        {"type": "response.created", "response": response("in_progress", [], False)},
        {"type": "response.in_progress", "response": response("in_progress", [], False)},
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "content": []}},
        {"type": "response.content_part.added", **where, "part": {**part, "text": ""}},
        *(
            {"type": "response.output_text.delta", **where, "delta": "word ", "logprobs": []}
            for _ in range(chunks)
        ),
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {"type": "response.completed", "response": response("completed", [done], True)},
    ]
    events = [_named({**payload, "sequence_number": n}) for n, payload in enumerate(payloads)]
    return _rendered(response("completed", [done], True), events, extra_headers)


def render_messages(chunks: int, extra_headers: bytes) -> Rendered:
    """Anthropic's Messages API: the Message, or its events, text in `chunks` deltas."""
    usage = {"input_tokens": 12, "output_tokens": chunks}
    message = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": " ".join(["word"] * chunks)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    delta = {"type": "text_delta", "text": "word "}
    payloads: list[dict[str, object]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0, "delta": delta} for _ in range(chunks)),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": chunks},
        },
        {"type": "message_stop"},
    ]
    return _rendered(message, [_named(payload) for payload in payloads], extra_headers)


def render(latency: float, chunks: int, gap: float, extra_headers: bytes = b"") -> Answers:
    usage = {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks}
    whole = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": " ".join(["word"] * chunks)},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000}
    events = [
        _event({**base, "model": MODEL, "choices": [{"index": 0, "delta": {"content": "word "}}]})
        for _ in range(chunks)
    ]
    events.append(
        _event(
            {
                **base,
                "model": MODEL,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            }
        )
    )
    events.append(_event({**base, "model": MODEL, "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    listing = {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench"}]}
    return Answers(
        _rendered(whole, events, extra_headers),
        {
            b"/v1/responses": render_responses(chunks, extra_headers),
            b"/v1/messages": render_messages(chunks, extra_headers),
        },
        _response(orjson.dumps(listing), extra_headers),
        latency,
        gap,
    )


class _Connection(asyncio.Protocol):
    """One client connection: requests are answered in order, one at a time (no pipelining)."""

    def __init__(self, answers: Answers) -> None:
        self._answers = answers
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._body: list[bytes] = []
        self._url = b""
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self._url = url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self._body)
        self._body.clear()
        answers = self._answers
        if self._parser.get_method() == b"GET":
            self._write(answers.models)
            return
        rendered = answers.by_path.get(self._url, answers.chat)
        if b'"stream":true' in body.replace(b" ", b""):
            self._loop.call_later(answers.latency, self._stream_start, rendered)
        else:
            self._loop.call_later(answers.latency, self._write, rendered.whole)

    def _write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)

    def _stream_start(self, rendered: Rendered) -> None:
        self._write(rendered.stream_head)
        if self._answers.gap > 0:
            self._loop.call_later(self._answers.gap, self._write, rendered.stream_tail)
        else:
            self._write(rendered.stream_tail)


async def serve(sock: socket.socket, answers: Answers) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(answers), sock=sock, backlog=4096)
    async with server:
        await server.serve_forever()


def listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(4096)
    return sock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--chunks", type=int, default=8, help="content events per stream")
    parser.add_argument("--gap-ms", type=float, default=1.0, help="first event to the rest")
    parser.add_argument(
        "--provider-headers", action="store_true", help="answers carry PROVIDER_HEADERS too"
    )
    parser.add_argument(
        "--loop", choices=["asyncio", "uvloop"], default="asyncio", help="see the module's notes"
    )
    options = parser.parse_args()
    extra = PROVIDER_HEADERS if options.provider_headers else b""
    answers = render(options.latency_ms / 1000, options.chunks, options.gap_ms / 1000, extra)
    sock = listen(options.host, options.port)
    with contextlib.suppress(KeyboardInterrupt):
        if options.loop == "uvloop":
            uvloop.run(serve(sock, answers))
        else:
            asyncio.run(serve(sock, answers))


if __name__ == "__main__":
    main()
