"""grpc.health.v1 probes against a real grpcio health servicer."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from runestone_sidecar import conditions
from runestone_sidecar.probes import grpccheck


@pytest.fixture
async def health_server() -> AsyncIterator[tuple[str, health.aio.HealthServicer]]:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", servicer
    await server.stop(None)


async def test_serving_then_not_serving(
    health_server: tuple[str, health.aio.HealthServicer],
) -> None:
    target, servicer = health_server
    await servicer.set("svc", health_pb2.HealthCheckResponse.SERVING)
    probe = grpccheck.GrpcProbe(target, "svc", 2.0)
    assert (await probe.check()).ok
    await servicer.set("svc", health_pb2.HealthCheckResponse.NOT_SERVING)
    result = await probe.check()
    assert (result.ok, result.reason) == (False, conditions.NOT_SERVING)
    assert "NOT_SERVING" in result.message


async def test_unknown_service(health_server: tuple[str, health.aio.HealthServicer]) -> None:
    target, _ = health_server
    result = await grpccheck.GrpcProbe(target, "nope", 2.0).check()
    assert (result.ok, result.reason) == (False, conditions.NOT_SERVING)
    assert "NOT_FOUND" in result.message


async def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await grpccheck.GrpcProbe(f"127.0.0.1:{port}", "", 2.0).check()
    assert (result.ok, result.reason) == (False, conditions.TARGET_UNREACHABLE)


async def test_a_server_without_the_health_service() -> None:
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        result = await grpccheck.GrpcProbe(f"127.0.0.1:{port}", "", 2.0).check()
    finally:
        await server.stop(None)
    assert (result.ok, result.reason) == (False, conditions.BAD_RESPONSE)
    assert "UNIMPLEMENTED" in result.message


def test_target_from_url() -> None:
    assert grpccheck.target_from_url("grpc://127.0.0.1:50051") == "127.0.0.1:50051"
    assert grpccheck.target_from_url("127.0.0.1:50051") == "127.0.0.1:50051"
