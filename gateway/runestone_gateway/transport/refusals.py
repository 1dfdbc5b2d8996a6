"""The HTTP layer's own answers in the API's error envelope (DESIGN.md contract 6): a request that
cannot be framed, a head too large, an app that failed before it answered. Every answer on the
data port is in the envelope, these included.

The transport imports nothing else of the gateway, so the envelope's shape is written here once
more (a unit test holds it equal to `errors.envelope`). Bodies are built once, at import."""

from __future__ import annotations

import http
import json
from collections.abc import Iterable

INVALID_REQUEST = "invalid_request_error"


def body(message: str, *, type: str, code: str | None) -> bytes:
    error = {"message": message, "type": type, "param": None, "code": code}
    return json.dumps({"error": error}, separators=(",", ":")).encode()


def answer(status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
    """A whole answer that closes the connection: `body` as JSON, plus `headers` (the server's
    own, such as `date`)."""
    lines = [
        b"HTTP/1.1 %d %s\r\n" % (status, http.HTTPStatus(status).phrase.encode()),
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
    ]
    lines += [b"%s: %s\r\n" % (name, value) for name, value in headers]
    lines.append(b"connection: close\r\n\r\n")
    return b"".join(lines) + body


NOT_HTTP = body("The request is not valid HTTP/1.1.", type=INVALID_REQUEST, code="invalid_request")
BAD_TARGET = body(
    "The request target cannot be parsed.", type=INVALID_REQUEST, code="invalid_request"
)
FAILED = body("The gateway failed to handle the request.", type="server_error", code=None)


def head_too_large(limit: int) -> bytes:
    return body(
        f"The request head is larger than the limit of {limit} bytes.",
        type=INVALID_REQUEST,
        code="request_header_fields_too_large",
    )
