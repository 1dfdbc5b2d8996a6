"""The sidecar's own `grpc.health.v1` service: SERVING while its loop runs."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

# The overall server status, and a named service for clients that ask for the sidecar by name.
SERVICES = ("", "runestone.sidecar")


class HealthGrpc:
    def __init__(self) -> None:
        self._server = grpc.aio.server()
        self._servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, self._server)

    async def start(self, host: str, port: int) -> int:
        """Start serving; return the bound port (useful when `port` is 0)."""
        bound = self._server.add_insecure_port(f"{host}:{port}")
        if bound == 0:
            raise OSError(f"cannot bind gRPC health to {host}:{port}")
        await self._server.start()
        for service in SERVICES:
            await self._servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
        return int(bound)

    async def stop(self, grace: float = 1.0) -> None:
        await self._servicer.enter_graceful_shutdown()
        await self._server.stop(grace)
