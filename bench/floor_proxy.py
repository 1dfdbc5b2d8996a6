"""The least a Python proxy can do per request, as reference targets for bench/gateway_overhead.py:
what one extra hop through a Python process costs on this machine before any gateway logic.

    .venv/bin/python bench/floor_proxy.py --kind raw|asgi --port P --upstream-port U

Both forward every request, unchanged and without looking at it, to the upstream through the
gateway's own upstream client (runestone_gateway.providers.h1), and pass the answer back as it
arrives (streams included):

- `raw`: an asyncio protocol on uvloop with httptools parsing and one write per answer chunk; no
  ASGI server, no framework. The floor of a Python hop.
- `asgi`: the same forwarding as an ASGI app of a dozen lines under uvicorn with its own
  httptools protocol (and uvloop). The difference to `raw` is what a general ASGI server costs
  per request; it is why the gateway serves its API port with its own protocol
  (runestone_gateway.http1) under uvicorn's server, and why the gateway can come in between
  the two floors.

No auth, no parsing of the body, no metrics: not a gateway, a measuring stick."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import httptools
import uvicorn
import uvloop

from runestone_gateway.transport import h1


class _Forward(asyncio.Protocol):
    """One client connection of the `raw` proxy; requests are answered in order."""

    def __init__(self, pool: h1.Pool) -> None:
        self._pool = pool
        self._parser = httptools.HttpRequestParser(self)
        self._body: list[bytes] = []
        self._url = b""
        self._transport: asyncio.Transport | None = None
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._worker = asyncio.get_running_loop().create_task(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method().decode()
        self._queue.put_nowait((method, b"".join(self._body)))
        self._body = []

    async def _serve(self) -> None:
        assert self._transport is not None
        while True:
            method, body = await self._queue.get()
            path, self._url = self._url.decode(), b""
            response = await self._pool.request(
                method, path, body, b"content-type: application/json\r\n"
            )
            stream = response.headers.get("content-type", "").startswith("text/event-stream")
            if stream:
                self._transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                while (chunk := await response.next_chunk()) is not None:
                    self._transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self._transport.write(b"0\r\n\r\n")
            else:
                data = await response.read()
                self._transport.write(
                    b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d"
                    b"\r\n\r\n%s" % (response.status, len(data), data)
                )
            response.release()


async def _serve_raw(port: int, upstream: str) -> None:
    pool = h1.Pool(upstream, {})
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Forward(pool), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def _asgi_app(upstream: str) -> Any:
    pool: h1.Pool | None = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal pool
        if scope["type"] != "http":
            return
        pool = pool or h1.Pool(upstream, {})
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        response = await pool.request(
            scope["method"], scope["path"], body, b"content-type: application/json\r\n"
        )
        kind = response.headers.get("content-type", "application/json").encode("latin-1")
        if kind.startswith(b"text/event-stream"):
            start = {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", kind)],
            }
            await send(start)
            while (chunk := await response.next_chunk()) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            data = await response.read()
            headers = [(b"content-type", kind), (b"content-length", b"%d" % len(data))]
            start = {"type": "http.response.start", "status": response.status, "headers": headers}
            await send(start)
            await send({"type": "http.response.body", "body": data})
        response.release()

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=["raw", "asgi"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    options = parser.parse_args()
    upstream = f"http://127.0.0.1:{options.upstream_port}"
    if options.kind == "raw":
        uvloop.run(_serve_raw(options.port, upstream))
    else:
        uvicorn.run(
            _asgi_app(upstream),
            host="127.0.0.1",
            port=options.port,
            loop="uvloop",
            http="httptools",
            lifespan="off",
            log_level="warning",
            access_log=False,
        )


if __name__ == "__main__":
    main()
