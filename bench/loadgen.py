"""A closed-loop HTTP/1.1 load generator for the gateway benchmarks: `concurrency` keep-alive
connections, each sending one pre-rendered POST, waiting for the whole answer, and sending the
next. Raw asyncio protocols on uvloop with httptools parsing, so the client costs a few tens of
microseconds per request and is the same for every target it measures.

Per request it records the time to the first body byte (for streams: the first event, i.e. time
to first token) and to the end of the answer. An answer counts as an error when its status is
not 200, when a stream does not carry its API's last event (`[DONE]`, `response.completed`,
`message_stop`) or carries its failure event, or when the connection fails (the connection is
then opened again). `ENDPOINTS` are the APIs it can drive: Chat Completions, OpenAI's Responses
and Anthropic's Messages."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import httptools
import orjson

PATH = "/v1/chat/completions"
PROMPT = [{"role": "user", "content": "Say hello to the benchmark."}]


SDK_HEADERS = [
    "accept-encoding: gzip, deflate",
    "connection: keep-alive",
    "accept: application/json",
    "user-agent: AsyncOpenAI/Python 3.54.0",
    "x-stainless-lang: python",
    "x-stainless-package-version: 3.54.0",
    "x-stainless-os: Linux",
    "x-stainless-arch: x64",
    "x-stainless-runtime: CPython",
    "x-stainless-runtime-version: 3.11.7",
    "x-stainless-async: async:asyncio",
    "x-stainless-retry-count: 0",
    "x-stainless-read-timeout: 600",
]
"""The headers the official `openai` Python SDK (3.54.0, AsyncOpenAI) sends besides host,
content-type, content-length and authorization, as read off the wire."""


@dataclass(frozen=True)
class Endpoint:
    """One API the load generator drives: its path, a request for a model, the event that ends
    a streamed answer and the one that says it failed."""

    name: str
    path: str
    document: Callable[[str], dict[str, object]]
    done: bytes
    failed: bytes


CHAT = Endpoint(
    "chat",
    PATH,
    lambda model: {"model": model, "messages": PROMPT, "max_tokens": 16},
    b"[DONE]",
    b'"error"',
)
ENDPOINTS = {
    endpoint.name: endpoint
    for endpoint in (
        CHAT,
        Endpoint(
            "responses",
            "/v1/responses",
            lambda model: {"model": model, "input": PROMPT, "max_output_tokens": 16},
            b"event: response.completed",
            b"event: response.failed",
        ),
        Endpoint(
            "messages",
            "/v1/messages",
            lambda model: {"model": model, "messages": PROMPT, "max_tokens": 16},
            b"event: message_stop",
            b"event: error",
        ),
    )
}


def request(
    endpoint: Endpoint,
    host: str,
    port: int,
    model: str,
    api_key: str | None,
    stream: bool,
    sdk_headers: bool = False,
    headers: Sequence[str] = (),
) -> bytes:
    """One request to `endpoint` as bytes on the wire (the key as a bearer token, which the
    gateway takes on every endpoint); with `sdk_headers`, with the headers the official SDK
    sends too; `headers` are lines added after those (a gateway's routing headers)."""
    document = endpoint.document(model)
    if stream:
        document["stream"] = True
    body = orjson.dumps(document)
    lines = [
        f"POST {endpoint.path} HTTP/1.1",
        f"host: {host}:{port}",
        "content-type: application/json",
        f"content-length: {len(body)}",
    ]
    if api_key:
        lines.append(f"authorization: Bearer {api_key}")
    if sdk_headers:
        lines += SDK_HEADERS
    lines += headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Samples:
    """What one run measured."""

    latencies: list[float] = field(default_factory=list)  # seconds, request sent -> answer end
    first_bytes: list[float] = field(default_factory=list)  # seconds, request sent -> first byte
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0


_Result = tuple[int, float, float, bool, bool]
"""status, first byte, end, whether the stream's last event came, whether it failed"""


class _Connection(asyncio.Protocol):
    def __init__(self, endpoint: Endpoint) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._pending: asyncio.Future[_Result] | None = None
        self._first = 0.0
        self._done, self._failed = endpoint.done, endpoint.failed
        self._carry = b""  # the end of the last body piece: a marker may straddle two
        self._saw_done = self._saw_failed = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._pending is not None and not self._pending.done():
            self._pending.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            if self._pending is not None and not self._pending.done():
                self._pending.set_exception(error)
            if self._transport is not None:
                self._transport.close()

    def on_body(self, body: bytes) -> None:
        if not self._first:
            self._first = time.perf_counter()
        window = self._carry + body
        self._saw_done = self._saw_done or self._done in window
        self._saw_failed = self._saw_failed or self._failed in window
        self._carry = body[-32:]

    def on_message_complete(self) -> None:
        end = time.perf_counter()
        if self._pending is not None and not self._pending.done():
            status = self._parser.get_status_code()
            first = self._first or end
            self._pending.set_result((status, first, end, self._saw_done, self._saw_failed))

    def request(self, data: bytes) -> asyncio.Future[_Result]:
        assert self._transport is not None
        self._pending = asyncio.get_running_loop().create_future()
        self._first = 0.0
        self._carry = b""
        self._saw_done = self._saw_failed = False
        self._transport.write(data)
        return self._pending

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _connect(host: str, port: int, endpoint: Endpoint) -> _Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: _Connection(endpoint), host, port)
    return protocol


class _Budget:
    """Stop after `requests` answers or at `deadline`, whichever is set."""

    def __init__(self, requests: int | None, seconds: float | None) -> None:
        self._left = requests
        self.started = time.perf_counter()
        self._deadline = self.started + seconds if seconds is not None else None

    def open_at(self, moment: float) -> bool:
        """Whether a request may still start at `moment` (a paced connection's next slot)."""
        return self._deadline is None or moment < self._deadline

    def take(self) -> bool:
        if self._deadline is not None and time.perf_counter() >= self._deadline:
            return False
        if self._left is not None:
            if self._left <= 0:
                return False
            self._left -= 1
        return True


async def _worker(
    host: str,
    port: int,
    payload: bytes,
    stream: bool,
    budget: _Budget,
    samples: Samples,
    endpoint: Endpoint,
    pace: tuple[float, float] | None = None,
) -> None:
    connection: _Connection | None = None
    # Paced: this connection's requests start at `offset + k * interval` (at once when late).
    offset, interval = pace if pace is not None else (0.0, 0.0)
    sent = 0
    try:
        while budget.take():
            if pace is not None:
                slot = budget.started + offset + sent * interval
                if not budget.open_at(slot):
                    break
                sent += 1
                wait = slot - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                if connection is None or connection.closed:
                    connection = await _connect(host, port, endpoint)
                started = time.perf_counter()
                status, first, end, done, failed = await connection.request(payload)
            except (OSError, httptools.HttpParserError) as error:
                samples.error(type(error).__name__)
                connection = None
                await asyncio.sleep(0.01)  # a refused connection must not spin
                continue
            if status != 200:
                samples.error(f"status {status}")
            elif stream and (not done or failed):
                samples.error(f"stream without {endpoint.done.decode()}")
            else:
                samples.latencies.append(end - started)
                samples.first_bytes.append(first - started)
    finally:
        if connection is not None:
            connection.close()


async def run(
    host: str,
    port: int,
    payload: bytes,
    *,
    stream: bool,
    concurrency: int,
    requests: int | None = None,
    seconds: float | None = None,
    endpoint: Endpoint = CHAT,
    rate: float | None = None,
) -> Samples:
    """Drive `concurrency` connections until `requests` answers or `seconds` have passed;
    `payload` is a request to `endpoint`. With `rate`, requests start at that many per second
    in all (evenly spread over the connections; a connection still busy when its next one is
    due sends it as soon as it is free) instead of each connection sending its next request the
    moment an answer ends: a closed loop whose load is the same for every target measured."""
    if requests is None and seconds is None:
        raise ValueError("give requests or seconds")
    samples = Samples()
    budget = _Budget(requests, seconds)
    started = time.perf_counter()
    interval = concurrency / rate if rate else 0.0
    await asyncio.gather(
        *(
            _worker(
                host,
                port,
                payload,
                stream,
                budget,
                samples,
                endpoint,
                (n * interval / concurrency, interval) if rate else None,
            )
            for n in range(concurrency)
        )
    )
    samples.elapsed = time.perf_counter() - started
    return samples


chat_request = functools.partial(request, CHAT)
"""One chat completion request as bytes on the wire (host, port, model, key, stream)."""
