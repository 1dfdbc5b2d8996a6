"""The two grpc.health.v1 messages, encoded and decoded by hand.

    message HealthCheckRequest  { string service = 1; }
    message HealthCheckResponse { ServingStatus status = 1; }   // enum, a varint

Two one-field messages do not need the protobuf runtime and generated modules, which cost this
process about 2.5 MB; the tests check these bytes against grpcio-health-checking's own client
and server. Unknown fields are skipped, as protobuf requires.
"""

from __future__ import annotations

UNKNOWN = 0
SERVING = 1
NOT_SERVING = 2
SERVICE_UNKNOWN = 3  # only in Watch answers
STATUS_NAMES = {
    UNKNOWN: "UNKNOWN",
    SERVING: "SERVING",
    NOT_SERVING: "NOT_SERVING",
    SERVICE_UNKNOWN: "SERVICE_UNKNOWN",
}

SERVICE = "grpc.health.v1.Health"
CHECK = f"/{SERVICE}/Check"
WATCH = f"/{SERVICE}/Watch"

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field; lengths are checked."""
    fields: list[tuple[int, int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == _VARINT:
            value, at = _read_varint(data, at)
        elif wire == _LENGTH:
            length, at = _read_varint(data, at)
            if at + length > len(data):
                raise ValueError("truncated length-delimited field")
            value, at = data[at : at + length], at + length
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            if at + size > len(data):
                raise ValueError("truncated fixed-size field")
            value, at = int.from_bytes(data[at : at + size], "little"), at + size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        fields.append((number, wire, value))
    return fields


def encode_request(service: str) -> bytes:
    raw = service.encode()
    return b"\x0a" + _varint(len(raw)) + raw if raw else b""


def decode_request(data: bytes) -> str:
    service = ""
    for number, wire, value in _fields(data):
        if number == 1 and wire == _LENGTH and isinstance(value, bytes):
            service = value.decode()
    return service


def encode_response(status: int) -> bytes:
    return b"\x08" + _varint(status) if status else b""


def decode_response(data: bytes) -> int:
    status = UNKNOWN
    for number, wire, value in _fields(data):
        if number == 1 and wire == _VARINT and isinstance(value, int):
            status = value
    return status


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"status {status}")
