"""The gateway's own HTTP/1.1 upstream client against real sockets: scripted loopback servers
that answer well, compress, stream, stop short, close early or hold a large body."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from runestone_gateway.transport import h1

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                await self.handler(reader, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[Server]]]:
    started: list[Server] = []

    async def start(handler: Handler) -> Server:
        server = Server(handler)
        server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        started.append(server)
        return server

    yield start
    for server in started:
        assert server.server is not None
        server.server.close()


def answer(body: bytes, *headers: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n" % len(body) + b"".join(headers)
        writer.write(head + b"\r\n" + body)
        await writer.drain()

    return handle


def say_and_hang_up(data: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        writer.close()

    return handle


async def test_kept_alive_connections_are_reused(serve: Callable[..., Awaitable[Server]]) -> None:
    server = await serve(answer(b'{"ok": true}'))
    pool = h1.Pool(server.url, {"authorization": "Bearer upstream-key"})
    for _ in range(3):
        response = await pool.request("POST", pool.path("/chat"), b"{}", b"x-extra: 1\r\n")
        assert (response.status, await response.read()) == (200, b'{"ok": true}')
        response.release()
    await pool.close()
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /v1/chat HTTP/1.1\r\n")
    for line in (b"authorization: Bearer upstream-key", b"x-extra: 1", b"content-length: 2"):
        assert line in first


async def test_the_headers_that_describe_the_body_are_kept(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(
        answer(
            b"{}",
            b"Content-Type: application/json\r\n",
            b"x-ratelimit-remaining-requests: 99\r\n",
            b"set-cookie: a=b\r\n",
        )
    )
    pool = h1.Pool(server.url, {})
    response = await pool.request("GET", pool.path("/models"))
    assert response.headers == {"content-length": "2", "content-type": "application/json"}
    assert await response.read() == b"{}"
    response.release()
    await pool.close()


async def test_gzip_bodies_are_decompressed(serve: Callable[..., Awaitable[Server]]) -> None:
    server = await serve(answer(gzip.compress(b"hello " * 100), b"content-encoding: gzip\r\n"))
    pool = h1.Pool(server.url, {})
    response = await pool.request("GET", pool.path("/models"))
    assert await response.read() == b"hello " * 100
    await pool.close()


async def test_chunked_bodies_arrive_in_pieces(serve: Callable[..., Awaitable[Server]]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    server = await serve(handle)
    pool = h1.Pool(server.url, {})
    response = await pool.request("POST", pool.path("/chat"), b"{}")
    assert await response.next_chunk() == b"first"
    assert await response.next_chunk() == b"second"
    assert await response.next_chunk() is None
    response.release()
    await pool.close()


def chunked_pieces(*steps: bytes | float) -> Handler:
    """A chunked 200 answer: each bytes step is sent as a chunk, each float is a pause (s)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for step in steps:
            if isinstance(step, float):
                await asyncio.sleep(step)
            else:
                writer.write(b"%x\r\n%s\r\n" % (len(step), step))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    return handle


async def test_a_stream_silent_longer_than_its_limit_fails_with_a_timeout(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(chunked_pieces(b"first", 5.0, b"too late"))
    pool = h1.Pool(server.url, {})
    response = await pool.request("POST", pool.path("/chat"), b"{}")
    response.limit_silence(0.5)
    assert await response.next_chunk() == b"first"
    with pytest.raises(TimeoutError):
        await response.next_chunk()
    response.close()
    await pool.close()


async def test_the_silence_limit_is_per_wait_not_for_the_whole_stream(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    steps: list[bytes | float] = []
    for index in range(8):  # 1.6 s in all, never more than 0.2 s apart
        steps += [b"piece %d;" % index, 0.2]
    server = await serve(chunked_pieces(*steps))
    pool = h1.Pool(server.url, {})
    response = await pool.request("POST", pool.path("/chat"), b"{}")
    response.limit_silence(1.0)
    body = await response.read()
    assert body == b"".join(b"piece %d;" % index for index in range(8))
    response.release()
    await pool.close()


async def test_a_busy_reader_is_not_a_silent_upstream(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    """The reader spends longer than the limit on a piece; the next one arrives soon after it
    starts waiting again. The clock runs only while the reader waits."""
    server = await serve(chunked_pieces(b"first", 2.4, b"second"))
    pool = h1.Pool(server.url, {})
    response = await pool.request("POST", pool.path("/chat"), b"{}")
    response.limit_silence(1.0)
    assert await response.next_chunk() == b"first"
    await asyncio.sleep(2.0)  # busy: nothing arrives, and nobody is waiting for it
    assert await response.next_chunk() == b"second"
    assert await response.next_chunk() is None
    response.release()
    await pool.close()


async def test_what_arrived_together_is_handed_over_together(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    events = [b"data: %d\n\n" % i for i in range(5)]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events)
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    server = await serve(say_and_hang_up(head + chunked + b"0\r\n\r\n"))
    pool = h1.Pool(server.url, {})
    response = await pool.request("POST", pool.path("/chat"), b"{}")
    await asyncio.sleep(0.1)  # every chunk is in before the first read
    assert await response.next_chunk() == b"".join(events)
    assert await response.next_chunk() is None
    await pool.close()


async def test_an_answer_that_breaks_off_is_a_protocol_error(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(say_and_hang_up(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial"))
    pool = h1.Pool(server.url, {})
    response = await pool.request("POST", pool.path("/chat"), b"{}")
    with pytest.raises(h1.ProtocolError):
        await response.read()
    await pool.close()


async def test_a_body_delimited_by_close_is_whole(serve: Callable[..., Awaitable[Server]]) -> None:
    server = await serve(
        say_and_hang_up(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
    )
    pool = h1.Pool(server.url, {})
    response = await pool.request("GET", pool.path("/models"))
    assert await response.read() == b"until the end"
    await pool.close()


async def test_closed_without_answer_and_refused_are_connect_errors(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await serve(hang_up)
    pool = h1.Pool(server.url, {})
    with pytest.raises(h1.ConnectError):
        await pool.request("POST", pool.path("/chat"), b"{}")
    assert server.server is not None
    server.server.close()
    await server.server.wait_closed()
    with pytest.raises(h1.ConnectError):
        await pool.request("POST", pool.path("/chat"), b"{}")
    await pool.close()


async def test_garbage_is_a_protocol_error(serve: Callable[..., Awaitable[Server]]) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00\x01 not http at all\r\n\r\n")
        await writer.drain()

    server = await serve(garbage)
    pool = h1.Pool(server.url, {})
    with pytest.raises(h1.ProtocolError):
        await pool.request("GET", pool.path("/models"))
    await pool.close()


async def test_a_large_body_is_read_whole_through_flow_control(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    body = bytes(range(256)) * 8192  # 2 MiB: well past the high-water mark
    server = await serve(answer(body))
    pool = h1.Pool(server.url, {})
    response = await pool.request("GET", pool.path("/models"))
    await asyncio.sleep(0.2)  # let the socket fill the buffer up to the mark, then pause
    assert await response.read() == body
    response.release()
    response = await pool.request("GET", pool.path("/models"))
    assert len(await response.read()) == len(body)
    await pool.close()
    assert server.connections == 1


async def test_a_cancelled_request_closes_its_connection(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    hung_up = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client hangs up
        hung_up.set()
        writer.close()

    server = await serve(silent)
    pool = h1.Pool(server.url, {})
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await pool.request("POST", pool.path("/chat"), b"{}")
    await asyncio.wait_for(hung_up.wait(), 10)  # the server saw the connection end
    assert server.requests, "the request reached the server"
    await pool.close()


async def test_an_answer_past_its_deadline_fails_and_closes_its_connection(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    hung_up = asyncio.Event()

    async def head_then_silence(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nthe start")
        await writer.drain()
        await reader.read()  # until the client hangs up
        hung_up.set()
        writer.close()

    server = await serve(head_then_silence)
    pool = h1.Pool(server.url, {})
    response = await pool.request("POST", pool.path("/chat"), b"{}", answer_within=0.5)
    assert response.status == 200  # the head came in time; the rest of the body never does
    with pytest.raises(TimeoutError):
        await response.read()
    response.close()
    await asyncio.wait_for(hung_up.wait(), 10)

    await pool.close()

    silent = h1.Pool((await serve(lambda reader, writer: reader.read())).url, {})
    with pytest.raises(TimeoutError):  # no head at all
        await silent.request("POST", silent.path("/chat"), b"{}", answer_within=0.3)
    await silent.close()


async def test_an_answer_within_its_deadline_keeps_its_connection(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    server = await serve(chunked_pieces(b"slow ", 0.3, b"but in time"))
    pool = h1.Pool(server.url, {})
    for _ in range(2):
        response = await pool.request("POST", pool.path("/chat"), b"{}", answer_within=5.0)
        assert await response.read() == b"slow but in time"
        response.release()
    await asyncio.sleep(0.2)  # a deadline left armed would fire on the idle connection
    response = await pool.request("POST", pool.path("/chat"), b"{}", answer_within=5.0)
    assert await response.read() == b"slow but in time"
    response.release()
    await pool.close()
    assert server.connections == 1


async def test_each_request_on_a_kept_connection_has_its_own_deadline(
    serve: Callable[..., Awaitable[Server]],
) -> None:
    """The deadline watchdog belongs to the connection: it must time each request from that
    request's start, and honour a shorter limit than the one it was made for."""
    answered = 0

    async def slower_each_time(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        answered += 1
        if answered == 3:
            return  # the third request gets no answer at all
        await asyncio.sleep(0.3)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()

    server = await serve(slower_each_time)
    pool = h1.Pool(server.url, {})
    for pause in (0.0, 0.4):  # the second starts after the first request's limit has passed
        await asyncio.sleep(pause)
        response = await pool.request("POST", pool.path("/chat"), b"{}", answer_within=0.5)
        assert await response.read() == b"ok"
        response.release()
    with pytest.raises(TimeoutError, match="did not answer in time"):
        async with asyncio.timeout(5):  # its own TimeoutError says nothing: the match fails
            await pool.request("POST", pool.path("/chat"), b"{}", answer_within=0.2)
    await pool.close()
    assert server.connections == 1


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="not an http"):
        h1.Pool("ftp://example.invalid/", {})


async def test_a_pooled_connection_idle_too_long_is_closed(
    serve: Callable[..., Awaitable[Server]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(h1, "IDLE_SECONDS", 0.6)
    server = await serve(answer(b"{}"))
    pool = h1.Pool(server.url, {})
    for _ in range(3):  # used again within the idle limit: the same connection each time
        response = await pool.request("POST", pool.path("/chat"), b"{}")
        await response.read()
        response.release()
        await asyncio.sleep(0.4)
    assert server.connections == 1
    await asyncio.sleep(1.0)  # now idle for longer than the limit
    response = await pool.request("POST", pool.path("/chat"), b"{}")
    await response.read()
    response.release()
    assert server.connections == 2
    await pool.close()
