"""The sidecar's own /healthz, /metrics and grpc.health.v1."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runestone_sidecar import health_grpc, health_http, healthwire, httpclient, metrics


async def test_healthz_and_metrics() -> None:
    m = metrics.Metrics()
    m.patches.inc("runestone.dev/x")
    beat = health_http.Heartbeat(stale_after=60)
    server = await health_http.HealthHttp(m, beat.check).start("127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        assert (await httpclient.request("GET", base + "/healthz")).status == 200
        beat.beat()
        assert (await httpclient.request("GET", base + "/healthz")).body == b"ok\n"
        beat.last -= 120  # the loop has not beaten for two minutes
        stale = await httpclient.request("GET", base + "/healthz")
        assert stale.status == 503
        assert b"has not completed a probe" in stale.body
        scraped = await httpclient.request("GET", base + "/metrics")
        assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert (
            b'runestone_sidecar_condition_patches_total{condition="runestone.dev/x"} 1.0'
            in scraped.body
        )
        assert (await httpclient.request("GET", base + "/nope")).status == 404
        assert (await httpclient.request("POST", base + "/metrics", body=b"")).status == 405
    finally:
        server.close()


async def test_grpc_health_answers_grpcio_health_clients() -> None:
    server = health_grpc.HealthGrpc()
    port = await server.start("127.0.0.1", 0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for service in ("", "runestone.sidecar"):
                request = health_pb2.HealthCheckRequest(service=service)
                response = await stub.Check(request, timeout=5)
                assert response.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await stub.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=5)
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

            watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            await server.set_all(healthwire.NOT_SERVING)
            second = await watch.read()
            assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
            watch.cancel()

            unknown_watch = stub.Watch(health_pb2.HealthCheckRequest(service="nope"), timeout=10)
            assert (await unknown_watch.read()).status == (
                health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
            )
            unknown_watch.cancel()
    finally:
        await server.stop(grace=0.1)
