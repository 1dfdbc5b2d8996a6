"""Generic HTTP and gateway probes: 2xx is ready; anything else is a failure with a reason."""

from __future__ import annotations

import asyncio

from runestone_sidecar import conditions
from runestone_sidecar.probes import httpget


async def serve_once(raw: bytes) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(raw)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/readyz"


async def test_2xx_is_ready() -> None:
    server, url = await serve_once(b"HTTP/1.1 204 No Content\r\n\r\n")
    async with server:
        result = await httpget.HttpProbe(url, 2).check()
    assert (result.ok, result.reason, result.message) == (
        True,
        conditions.TARGET_READY,
        f"GET {url} answered 204",
    )


async def test_non_2xx_is_not_ready_and_the_body_explains() -> None:
    body = b'{"ready": false,\n "reason": "no provider is healthy"}'
    raw = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    server, url = await serve_once(raw)
    async with server:
        result = await httpget.HttpProbe(url, 2).check()
    assert (result.ok, result.reason) == (False, conditions.TARGET_NOT_READY)
    assert (
        result.message
        == f'GET {url} answered 503: {{"ready": false, "reason": "no provider is healthy"}}'
    )


async def test_garbage_is_a_bad_response() -> None:
    server, url = await serve_once(b"SSH-2.0-OpenSSH_9.2\r\n")
    async with server:
        result = await httpget.HttpProbe(url, 2).check()
    assert (result.ok, result.reason) == (False, conditions.BAD_RESPONSE)


def test_gateway_url_gets_readyz_only_when_it_has_no_path() -> None:
    assert httpget.gateway_readyz("http://127.0.0.1:8081") == "http://127.0.0.1:8081/readyz"
    assert httpget.gateway_readyz("http://127.0.0.1:8081/") == "http://127.0.0.1:8081/readyz"
    assert httpget.gateway_readyz("http://h:1/custom") == "http://h:1/custom"
