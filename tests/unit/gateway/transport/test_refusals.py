"""The HTTP layer's own answers are in the API's error envelope, written by the transport (which
imports nothing of the gateway) in exactly the shape `errors.envelope` gives."""

from __future__ import annotations

import orjson
import pytest

from runestone_gateway import errors
from runestone_gateway.transport import refusals


@pytest.mark.parametrize(
    ("message", "type_", "code"),
    [("bad", errors.INVALID_REQUEST, "invalid_request"), ("failed", errors.SERVER, None)],
)
def test_the_body_is_the_error_envelope(message: str, type_: str, code: str | None) -> None:
    body = refusals.body(message, type=type_, code=code)
    assert orjson.loads(body) == errors.envelope(message, type=type_, code=code)


def test_an_answer_is_framed_and_closes_the_connection() -> None:
    answer = refusals.answer(400, refusals.NOT_HTTP, [(b"date", b"today")])
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    assert status == b"HTTP/1.1 400 Bad Request"
    headers = dict(line.split(b": ", 1) for line in lines)
    assert headers == {
        b"content-type": b"application/json",
        b"content-length": str(len(body)).encode(),
        b"date": b"today",
        b"connection": b"close",
    }
    assert orjson.loads(body)["error"]["type"] == errors.INVALID_REQUEST
