"""The hand-written grpc.health.v1 messages match protobuf's own encoding byte for byte."""

from __future__ import annotations

import pytest
from grpc_health.v1 import health_pb2

from runestone_sidecar import healthwire

Request, Response = health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse


@pytest.mark.parametrize("service", ["", "runestone.sidecar", "ü" * 100, "x" * 300])
def test_requests_match_protobuf(service: str) -> None:
    assert healthwire.encode_request(service) == Request(service=service).SerializeToString()
    assert healthwire.decode_request(Request(service=service).SerializeToString()) == service


@pytest.mark.parametrize("status", [0, 1, 2, 3, 200])
def test_responses_match_protobuf(status: int) -> None:
    assert healthwire.encode_response(status) == Response(status=status).SerializeToString()
    assert healthwire.decode_response(Response(status=status).SerializeToString()) == status


def test_unknown_fields_are_skipped() -> None:
    # field 2 varint, field 3 bytes, field 4 fixed32, field 5 fixed64, then field 1
    extra = b"\x10\x05" + b"\x1a\x02hi" + b"\x25" + b"\x00" * 4 + b"\x29" + b"\x00" * 8
    assert healthwire.decode_response(extra + b"\x08\x01") == healthwire.SERVING
    assert healthwire.decode_request(extra + b"\x0a\x01a") == "a"


@pytest.mark.parametrize("garbage", [b"\x08", b"\x0a\x05ab", b"\x0f", b"\xff" * 11])
def test_garbage_raises_value_error(garbage: bytes) -> None:
    with pytest.raises(ValueError, match=r"truncated|overlong|wire type"):
        healthwire.decode_response(garbage)
