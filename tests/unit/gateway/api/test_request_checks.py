"""Hand-written request validation."""

from __future__ import annotations

import orjson
import pytest

from runestone_gateway import errors
from runestone_gateway.api import validate


def parse(kind: str, body: object) -> validate.Request:
    return validate.parse(kind, orjson.dumps(body))  # type: ignore[arg-type]


def test_chat_request() -> None:
    request = parse(
        "chat",
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert (request.model, request.stream, request.include_usage) == ("m", True, True)
    assert not parse(
        "chat",
        {"model": "m", "messages": [{"role": "user"}], "stream_options": {"include_usage": True}},
    ).include_usage


@pytest.mark.parametrize(
    ("kind", "body", "param"),
    [
        ("chat", {"messages": [{"role": "user"}]}, "model"),
        ("chat", {"model": "", "messages": [{"role": "user"}]}, "model"),
        ("chat", {"model": "m", "messages": []}, "messages"),
        ("chat", {"model": "m", "messages": ["hi"]}, "messages[0]"),
        (
            "chat",
            {"model": "m", "messages": [{"role": "user"}], "tools": [{"type": "function"}]},
            "tools[0]",
        ),
        ("chat", {"model": "m", "messages": [{"role": "user"}], "stream": 1}, "stream"),
        ("completion", {"model": "m"}, "prompt"),
        ("embedding", {"model": "m", "input": ""}, "input"),
        ("embedding", {"model": "m", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ("embedding", {"model": "m", "input": "x", "stream": True}, "stream"),
    ],
)
def test_invalid_requests_name_the_parameter(kind: str, body: object, param: str) -> None:
    with pytest.raises(errors.GatewayError) as raised:
        parse(kind, body)
    assert raised.value.status == 400
    assert raised.value.param == param


def test_not_json_or_not_an_object() -> None:
    for raw in (b"{", b"[]", b"null", b'"text"'):
        with pytest.raises(errors.GatewayError) as raised:
            validate.parse("chat", raw)
        assert raised.value.status == 400


def test_envelope_shape() -> None:
    error = errors.model_not_found("x")
    assert orjson.loads(error.body()) == {
        "error": {
            "message": error.message,
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
