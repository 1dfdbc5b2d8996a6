"""The small HTTP client reads well-formed answers and turns every broken one into a
TransportError with a reason, never another exception."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from runestone_sidecar import httpclient

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + (await reader.readexactly(length) if length else b"")


def answer(raw: bytes, close: bool = True) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(raw)
        await writer.drain()
        if close:
            writer.close()
        else:
            await asyncio.sleep(30)

    return handle


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()


async def test_content_length_body(serve: Callable[[Handler], Awaitable[str]]) -> None:
    url = await serve(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"))
    response = await httpclient.request("GET", url + "/readyz")
    assert (response.status, response.reason, response.body) == (200, "OK", b"hello")
    assert response.headers["x-a"] == "b"


async def test_chunked_body(serve: Callable[[Handler], Awaitable[str]]) -> None:
    raw = (
        b"HTTP/1.1 503 Nope\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nnot \r\n5\r\nready\r\n0\r\n\r\n"
    )
    response = await httpclient.request("GET", await serve(answer(raw)))
    assert (response.status, response.body) == (503, b"not ready")
    assert response.text() == "not ready"


async def test_body_until_close(serve: Callable[[Handler], Awaitable[str]]) -> None:
    url = await serve(answer(b"HTTP/1.0 200 OK\r\n\r\nuntil close"))
    assert (await httpclient.request("GET", url)).body == b"until close"


async def test_request_carries_method_headers_and_body(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    seen: list[bytes] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    url = await serve(echo)
    await httpclient.request("PATCH", url + "/x?y=1", headers={"A": "b"}, body=b"{}")
    request = seen[0]
    assert request.startswith(b"PATCH /x?y=1 HTTP/1.1\r\n")
    assert b"\r\nA: b\r\n" in request
    assert b"\r\nContent-Length: 2\r\n" in request
    assert request.endswith(b"\r\n\r\n{}")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"garbage garbage garbage\r\n\r\n", httpclient.KIND_MALFORMED),
        (b"\x00\xff\xfe binary junk", httpclient.KIND_MALFORMED),  # no line end, then EOF
        (b"HTTP/1.1 2x0 OK\r\n\r\n", httpclient.KIND_MALFORMED),
        (b"HTTP/1.1 200 OK\r\nno-colon-here\r\n\r\n", httpclient.KIND_MALFORMED),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", httpclient.KIND_RESET),
        (b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", httpclient.KIND_MALFORMED),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", httpclient.KIND_MALFORMED),
        (b"", httpclient.KIND_RESET),
    ],
)
async def test_broken_answers_are_transport_errors(
    serve: Callable[[Handler], Awaitable[str]], raw: bytes, kind: str
) -> None:
    url = await serve(answer(raw))
    with pytest.raises(httpclient.TransportError) as caught:
        await httpclient.request("GET", url, time_limit=5)
    assert caught.value.kind == kind
    assert "127.0.0.1" in caught.value.message


async def test_oversized_body_is_refused(serve: Callable[[Handler], Awaitable[str]]) -> None:
    url = await serve(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000))
    with pytest.raises(httpclient.TransportError) as caught:
        await httpclient.request("GET", url, max_body=1000)
    assert caught.value.kind == httpclient.KIND_MALFORMED
    assert "limit" in caught.value.message


async def test_a_silent_server_times_out(serve: Callable[[Handler], Awaitable[str]]) -> None:
    url = await serve(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", close=False))
    with pytest.raises(httpclient.TransportError) as caught:
        await httpclient.request("GET", url, time_limit=0.3)
    assert caught.value.kind == httpclient.KIND_TIMEOUT
    assert "0.3s" in caught.value.message


async def test_a_reset_connection(serve: Callable[[Handler], Awaitable[str]]) -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    with pytest.raises(httpclient.TransportError) as caught:
        await httpclient.request("GET", await serve(reset))
    assert caught.value.kind == httpclient.KIND_RESET


async def test_refused_connection() -> None:
    server = await asyncio.start_server(answer(b""), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(httpclient.TransportError) as caught:
        await httpclient.request("GET", f"http://127.0.0.1:{port}/")
    assert caught.value.kind == httpclient.KIND_REFUSED


def test_urls_are_parsed_with_default_ports_and_ipv6() -> None:
    target = httpclient.Target.parse("https://[::1]/v1/nodes?output=verbose")
    assert (target.host, target.port, target.path) == ("::1", 443, "/v1/nodes?output=verbose")
    assert target.host_header == "[::1]"
    assert httpclient.Target.parse("http://h:8080").host_header == "h:8080"
    with pytest.raises(ValueError, match="not an http"):
        httpclient.Target.parse("ftp://h/")


async def test_a_request_cancelled_at_any_step_raises_cancelled_and_never_returns(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    # Cancel the request after each number of event-loop steps in turn, so that one cancellation
    # lands while the finished connection is being closed: a request that returned its answer
    # there instead (asyncio.wait_for on Python 3.11 does) keeps a cancelled loop running.
    url = await serve(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    outcomes: list[str] = []
    for steps in range(80):
        task = asyncio.create_task(httpclient.request("GET", url + "/readyz"))
        for _ in range(steps):
            await asyncio.sleep(0)
        if task.done():
            outcomes.append("finished")
            await task
            continue
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            outcomes.append("cancelled")
        else:
            outcomes.append("swallowed")
    assert "swallowed" not in outcomes, outcomes
    assert "finished" in outcomes  # the sweep reached past the end of a whole request
