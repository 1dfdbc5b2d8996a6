"""The API port's HTTP/1.1 protocol (runestone_gateway.http1) under uvicorn's server, spoken to
over real loopback sockets: framing, keep-alive and pipelining, 100-continue, refused requests,
app failures, disconnects and shutdown."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import uvicorn

from runestone_gateway.process import server
from runestone_gateway.transport import extensions, http1

App = Callable[[Any, Any, Any], Awaitable[None]]


@dataclass
class Running:
    server: server.Server
    port: int

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def ask(self, data: bytes) -> bytes:
        """Send `data`, return everything until the server closes the connection."""
        reader, writer = await self.connect()
        writer.write(data)
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return answer


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    started: list[tuple[server.Server, asyncio.Task[None]]] = []

    async def start(app: App, keep_alive: float = 5.0) -> Running:
        config = uvicorn.Config(
            app,
            http=http1.Protocol,
            lifespan="off",
            log_config=None,
            proxy_headers=False,
            timeout_keep_alive=keep_alive,  # type: ignore[arg-type]
            timeout_graceful_shutdown=5,
        )
        running = server.Server(config)
        sock = server.bind("127.0.0.1", 0)
        task = asyncio.create_task(running.serve(sockets=[sock]))
        started.append((running, task))
        for _ in range(500):
            if running.started:
                break
            await asyncio.sleep(0.01)
        assert running.started, "the server did not start"
        return Running(running, sock.getsockname()[1])

    yield start
    for running, task in started:
        running.should_exit = True
        await asyncio.wait_for(task, 10)


async def read_answer(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One answer from a kept-alive connection: status line, headers, body (chunked decoded)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status, *lines = head[:-4].split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in lines)
    if b"content-length" in headers:
        return status, headers, await reader.readexactly(int(headers[b"content-length"]))
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, headers, body
        body += chunk[:-2]


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


def echo(stream: bool = False) -> App:
    """Answers with the request's method, path and body; as three chunks when `stream`."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = await read_body(receive)
        text = b"%s %s %s" % (scope["method"].encode(), scope["path"].encode(), body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        if stream:
            for part in (text[:3], text[3:6], text[6:]):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.body", "body": text})

    return app


def post(path: bytes, body: bytes, *extra: bytes) -> bytes:
    lines = [b"POST %s HTTP/1.1" % path, b"host: x", b"content-length: %d" % len(body), *extra]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def test_answers_are_framed_and_connections_kept_alive(serve: Any) -> None:
    running = await serve(echo())
    reader, writer = await running.connect()
    for index in range(3):
        writer.write(post(b"/v1/%d" % index, b"hello"))
        status, headers, body = await read_answer(reader)
        assert status == b"HTTP/1.1 200 OK"
        assert body == b"POST /v1/%d hello" % index
        assert headers[b"content-length"] == b"%d" % len(body), "the length is computed"
        assert headers[b"x-a"] == b"1"
        assert b"date" in headers
        assert b"connection" not in headers
    writer.close()


async def test_streamed_answers_are_chunked(serve: Any) -> None:
    running = await serve(echo(stream=True))
    reader, writer = await running.connect()
    writer.write(post(b"/s", b"abc"))
    _, headers, body = await read_answer(reader)
    assert headers[b"transfer-encoding"] == b"chunked"
    assert body == b"POST /s abc"
    writer.write(post(b"/t", b""))  # still usable afterwards
    assert (await read_answer(reader))[2] == b"POST /t "
    writer.close()


REQUEST_TARGETS = {
    b"/v1/models": ("/v1/models", b"/v1/models", b""),
    b"/v1/models?limit=2&after=x": ("/v1/models", b"/v1/models", b"limit=2&after=x"),
    b"/v1/a%20b": ("/v1/a b", b"/v1/a%20b", b""),
    b"/v1/models#part": ("/v1/models", b"/v1/models", b""),
    b"http://x/v1/models?q=1": ("/v1/models", b"/v1/models", b"q=1"),
}
"""Request target -> the scope's path, raw_path and query_string."""


async def test_the_request_target_becomes_path_and_query(serve: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen = repr((scope["path"], scope["raw_path"], scope["query_string"])).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": seen})

    running = await serve(app)
    reader, writer = await running.connect()
    for target, expected in REQUEST_TARGETS.items():
        writer.write(post(target, b""))
        status, _, body = await read_answer(reader)
        assert status == b"HTTP/1.1 200 OK", target
        assert body == repr(expected).encode(), target
    writer.close()


async def test_pipelined_requests_are_answered_in_order(serve: Any) -> None:
    running = await serve(echo())
    reader, writer = await running.connect()
    writer.write(post(b"/one", b"1") + post(b"/two", b"22") + post(b"/three", b"333"))
    bodies = [(await read_answer(reader))[2] for _ in range(3)]
    assert bodies == [b"POST /one 1", b"POST /two 22", b"POST /three 333"]
    writer.close()


async def test_a_large_body_arrives_whole(serve: Any) -> None:
    sizes: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = await read_body(receive)
        sizes.append(len(body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body[-10:]})

    running = await serve(app)
    body = bytes(range(256)) * 8192  # 2 MiB, far above the high-water mark
    reader, writer = await running.connect()
    writer.write(post(b"/big", body))
    assert (await read_answer(reader))[2] == body[-10:]
    assert sizes == [len(body)]
    writer.close()


async def test_head_answers_carry_no_body(serve: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello"})

    running = await serve(app)
    answer = await running.ask(b"HEAD / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 5\r\n" in answer
    assert answer.endswith(b"\r\n\r\n"), "no body after the head"


async def test_expect_continue_is_answered_when_the_body_is_asked_for(serve: Any) -> None:
    running = await serve(echo())
    reader, writer = await running.connect()
    writer.write(
        b"POST /c HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n"
    )
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10) == (
        b"HTTP/1.1 100 Continue\r\n\r\n"
    )
    writer.write(b"body")
    assert (await read_answer(reader))[2] == b"POST /c body"
    writer.close()


async def test_http_1_0_and_connection_close_end_the_connection(serve: Any) -> None:
    running = await serve(echo())
    for request in (
        b"POST /a HTTP/1.0\r\ncontent-length: 1\r\n\r\nx",
        post(b"/b", b"y", b"connection: close"),
    ):
        answer = await running.ask(request)  # returns only once the server closed
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"connection: close\r\n" in answer


async def test_garbage_and_oversized_heads_are_refused(serve: Any) -> None:
    running = await serve(echo())
    garbage = await running.ask(b"NOT HTTP AT ALL\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert orjson.loads(garbage.partition(b"\r\n\r\n")[2])["error"]["code"] == "invalid_request"
    huge = b"GET / HTTP/1.1\r\nx-big: " + b"a" * (http1.MAX_HEAD_BYTES + 1) + b"\r\n\r\n"
    answer = await running.ask(huge)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"content-type: application/json\r\n" in answer
    assert orjson.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == (
        "request_header_fields_too_large"
    )


async def test_a_broken_body_reaches_the_app_as_an_exception(serve: Any) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await receive()
        except extensions.BrokenBody:
            seen.append("broken")
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b"refused"})

    running = await serve(app)
    answer = await running.ask(
        b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabcdef\r\n"
    )
    assert seen == ["broken"]
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"connection: close\r\n" in answer
    assert answer.endswith(b"refused")


BAD_HEADERS = {
    "/value": (b"x-injected", b"a\r\nset-cookie: b"),
    "/name": (b"x-injected\r\nset-cookie", b"b"),
    "/newline-name": (b"x-injected\nset-cookie", b"b"),
    "/trailing-newline-name": (b"x-injected\n", b"b"),
    "/space-name": (b"bad name", b"b"),
    "/empty-name": (b"", b"b"),
}
"""Headers an app must not get onto the wire: each answer is a 500 instead."""


async def test_app_failures_become_500_or_a_closed_connection(serve: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/late":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
        elif scope["path"] in BAD_HEADERS:
            headers = [(b"x-fine", b"1"), BAD_HEADERS[scope["path"]]]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
        raise RuntimeError("boom")

    running = await serve(app)
    early = await running.ask(post(b"/early", b""))
    assert early.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert orjson.loads(early.partition(b"\r\n\r\n")[2])["error"]["type"] == "server_error"
    for path in BAD_HEADERS:
        injected = await running.ask(post(path.encode(), b""))
        assert injected.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), path
        assert b"set-cookie" not in injected, path
        assert b"x-fine" not in injected, path
    late = await running.ask(post(b"/late", b""))
    assert late.startswith(b"HTTP/1.1 200 OK\r\n")
    assert not late.endswith(b"0\r\n\r\n"), "the broken stream is cut, not ended cleanly"


async def test_a_disconnect_reaches_the_hook_and_receive(serve: Any) -> None:
    hooked = asyncio.Event()
    received: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        scope["extensions"][extensions.DISCONNECT_HOOK](hooked.set)
        received.append((await receive())["type"])  # waits until the client leaves

    running = await serve(app)
    _, writer = await running.connect()
    writer.write(post(b"/wait", b"x"))
    await asyncio.sleep(0.2)
    writer.close()
    await asyncio.wait_for(hooked.wait(), 10)
    for _ in range(100):
        if received:
            break
        await asyncio.sleep(0.02)
    assert received == ["http.disconnect"]


async def test_shutdown_lets_the_answer_in_progress_finish(serve: Any) -> None:
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    running = await serve(app)
    idle_reader, idle_writer = await running.connect()
    busy_reader, busy_writer = await running.connect()
    busy_writer.write(post(b"/slow", b""))
    await asyncio.sleep(0.2)
    running.server.should_exit = True
    assert await asyncio.wait_for(idle_reader.read(), 10) == b"", "the idle connection is closed"
    release.set()
    answer = await asyncio.wait_for(busy_reader.read(), 10)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close\r\n" in answer
    assert answer.endswith(b"done")
    for writer in (idle_writer, busy_writer):
        writer.close()


async def test_idle_connections_are_closed_after_the_keep_alive_timeout(serve: Any) -> None:
    running = await serve(echo(), keep_alive=0.3)
    reader, writer = await running.connect()
    writer.write(post(b"/a", b""))
    await read_answer(reader)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    silent_reader, silent_writer = await running.connect()
    silent_writer.write(b"GET / HTTP/1.1\r\n")  # never finishes its head
    assert await asyncio.wait_for(silent_reader.read(), 5) == b""
    for each in (writer, silent_writer):
        each.close()


async def test_one_task_serves_a_connection_and_a_busy_one_gets_another(serve: Any) -> None:
    """Requests one after another on a connection run in the same task; a request that arrives
    while the app is still busy after its previous answer (e.g. settling limits) is not held
    up; once the connection closes, its idle task ends."""
    tasks: list[asyncio.Task[Any] | None] = []
    first_done = asyncio.Event()
    second_seen = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        tasks.append(asyncio.current_task())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})
        if scope["path"] == "/busy":  # keeps working after its answer went out
            await asyncio.wait_for(second_seen.wait(), 10)
            first_done.set()
        elif scope["path"] == "/meanwhile":
            second_seen.set()

    running = await serve(app)
    reader, writer = await running.connect()
    for path in (b"/a", b"/b", b"/c"):
        writer.write(post(path, b""))
        assert (await read_answer(reader))[2] == path
    assert tasks[0] is tasks[1] is tasks[2], "one task for requests one after another"

    writer.write(post(b"/busy", b""))
    assert (await read_answer(reader))[2] == b"/busy"
    writer.write(post(b"/meanwhile", b""))
    assert (await read_answer(reader))[2] == b"/meanwhile"
    await asyncio.wait_for(first_done.wait(), 10)
    assert tasks[4] is not tasks[3], "the busy task did not hold up the next request"

    writer.write(post(b"/d", b""))
    assert (await read_answer(reader))[2] == b"/d"
    assert tasks[5] in (tasks[3], tasks[4]), "a finished task stays as the idle one"
    state = running.server.server_state
    assert len(state.tasks) == 1, "one idle task for the one open connection"
    writer.close()
    for _ in range(250):
        if not state.tasks:
            break
        await asyncio.sleep(0.02)
    assert not state.tasks, "the idle task ends with its connection"


async def test_answered_requests_leave_nothing_for_the_collector(serve: Any) -> None:
    """An exchange, its scope and its headers are freed when its answer is done, not kept for
    the cycle collector: cyclic garbage per request made a collector pass every few dozen
    requests under load."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await read_body(receive)
        scope["extensions"][extensions.DISCONNECT_HOOK](lambda: None)  # as the gateway's app
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": b"ok"})

    running = await serve(app)
    reader, writer = await running.connect()
    writer.write(post(b"/warm", b""))
    await read_answer(reader)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage
    try:
        for index in range(50):
            writer.write(post(b"/%d" % index, b"{}"))
            assert (await read_answer(reader))[2] == b"ok"
        gc.collect()
        left = [item for item in gc.garbage if isinstance(item, http1.Exchange)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    writer.close()
    assert left == []
