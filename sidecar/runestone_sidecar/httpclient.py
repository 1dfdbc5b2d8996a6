"""A small HTTP/1.1 client on asyncio streams, for probes and for the API server.

The sidecar makes a handful of requests per period, so one connection per request
(`Connection: close`) is enough; in exchange it does not load an HTTP library that would double its
memory. Every way a peer can misbehave (refused, reset, silent, garbage, oversized) surfaces as a
`TransportError` with a short, secret-free explanation, never as a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_BODY = 1024 * 1024
USER_AGENT = "runestone-sidecar"


class TransportError(Exception):
    """The request got no well-formed HTTP answer. `kind` is one of the KIND_* constants."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


KIND_REFUSED = "refused"
KIND_TIMEOUT = "timeout"
KIND_RESET = "reset"
KIND_MALFORMED = "malformed"
KIND_TLS = "tls"
KIND_RESOLVE = "resolve"


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: Mapping[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    def text(self, limit: int = 300) -> str:
        """The start of the body as one printable line, for reasons and log messages."""
        snippet = self.body[:limit].decode("utf-8", errors="replace")
        return " ".join(snippet.split())


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path plus query, as sent on the request line

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        return cls(parts.scheme, parts.hostname, port, path)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


async def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    time_limit: float = 5.0,
    max_body: int = DEFAULT_MAX_BODY,
) -> Response:
    """Send one request and read the whole answer within `time_limit` seconds.

    The limit is enforced here, not left to the caller, so that running out of time is reported
    like every other transport failure: a TransportError that says what did not answer.
    """
    target = Target.parse(url)
    try:
        async with asyncio.timeout(time_limit):
            return await _exchange(
                method, target, headers or {}, body, ssl_context, server_hostname, max_body
            )
    except TimeoutError:
        raise TransportError(
            KIND_TIMEOUT, f"no complete answer from {target.host_header} within {time_limit:g}s"
        ) from None


async def _exchange(
    method: str,
    target: Target,
    headers: Mapping[str, str],
    body: bytes | None,
    ssl_context: ssl.SSLContext | None,
    server_hostname: str | None,
    max_body: int,
) -> Response:
    where = target.host_header
    if target.scheme == "https" and ssl_context is None:
        ssl_context = _system_trust()
    use_tls = ssl_context if target.scheme == "https" else None
    try:
        reader, writer = await asyncio.open_connection(
            target.host,
            target.port,
            ssl=use_tls,
            server_hostname=(server_hostname or target.host) if use_tls else None,
            limit=MAX_HEADER_BYTES,
        )
    except ConnectionRefusedError:
        raise TransportError(KIND_REFUSED, f"connection to {where} refused") from None
    except socket.gaierror as error:
        raise TransportError(KIND_RESOLVE, f"cannot resolve {target.host}: {error}") from None
    except ssl.SSLError as error:
        raise TransportError(KIND_TLS, f"TLS handshake with {where} failed: {error}") from None
    except OSError as error:
        raise TransportError(KIND_RESET, f"cannot connect to {where}: {error}") from None
    try:
        writer.write(_head(method, target, headers, body))
        if body:
            writer.write(body)
        await writer.drain()
        return await _read_response(reader, method, max_body, where)
    except asyncio.IncompleteReadError:
        raise TransportError(
            KIND_RESET, f"{where} closed the connection before a complete answer"
        ) from None
    except (ConnectionResetError, BrokenPipeError):
        raise TransportError(KIND_RESET, f"{where} reset the connection") from None
    except asyncio.LimitOverrunError:
        raise TransportError(KIND_MALFORMED, f"{where} sent an oversized header line") from None
    except ssl.SSLError as error:
        raise TransportError(KIND_TLS, f"TLS error talking to {where}: {error}") from None
    except ValueError as error:  # every parse failure below raises ValueError
        raise TransportError(KIND_MALFORMED, f"{where} sent a malformed answer: {error}") from None
    finally:
        writer.close()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns instead of raising when
        # a cancellation arrives as the close completes, and the caller's loop never stops.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()


@functools.cache
def _system_trust() -> ssl.SSLContext:
    """The system trust store, loaded once and only if an https URL without a CA is probed."""
    return ssl.create_default_context()


def _head(method: str, target: Target, headers: Mapping[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {target.path} HTTP/1.1", f"Host: {target.host_header}"]
    names = {name.lower() for name in headers}
    if "user-agent" not in names:
        lines.append(f"User-Agent: {USER_AGENT}")
    if "accept" not in names:
        lines.append("Accept: */*")
    lines.append("Connection: close")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_response(
    reader: asyncio.StreamReader, method: str, max_body: int, where: str
) -> Response:
    status_line = await reader.readline()
    if not status_line:
        raise asyncio.IncompleteReadError(b"", None)
    status, reason = _parse_status_line(status_line)
    headers = await _read_headers(reader)
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Response(status, reason, headers, b"")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader, max_body)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > max_body:
            raise ValueError(f"body of {length} bytes exceeds the {max_body}-byte limit")
        body = await reader.readexactly(length)
    else:
        body = await reader.read(max_body + 1)
        if len(body) > max_body:
            raise ValueError(f"body exceeds the {max_body}-byte limit")
    return Response(status, reason, headers, body)


def _parse_status_line(line: bytes) -> tuple[int, str]:
    text = line.decode("latin-1").rstrip("\r\n")
    version, _, rest = text.partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {text[:60]!r}")
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or not code.isdigit():
        raise ValueError(f"bad status code in {text[:60]!r}")
    return int(code), reason


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    total = 0
    while True:
        line = await reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        total += len(line)
        if total > MAX_HEADER_BYTES:
            raise ValueError("headers exceed 64 KiB")
        if line in (b"\r\n", b"\n"):
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name.strip():
            raise ValueError(f"bad header line {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()


async def _read_chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    parts: list[bytes] = []
    size_so_far = 0
    while True:
        size_line = await reader.readline()
        if not size_line:
            raise asyncio.IncompleteReadError(b"", None)
        size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
        if size == 0:
            await _read_headers(reader)  # trailers, if any, end with a blank line
            return b"".join(parts)
        size_so_far += size
        if size_so_far > max_body:
            raise ValueError(f"body exceeds the {max_body}-byte limit")
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
