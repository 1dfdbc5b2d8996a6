"""The sidecar's own `grpc.health.v1` service (Check and Watch): SERVING while its loop runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from runestone_sidecar import healthwire

# The overall server status, and a named service for clients that ask for the sidecar by name.
SERVICES = ("", "runestone.sidecar")


class HealthGrpc:
    def __init__(self) -> None:
        self._status: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._server = grpc.aio.server()
        handler = grpc.method_handlers_generic_handler(
            healthwire.SERVICE,
            {
                "Check": grpc.unary_unary_rpc_method_handler(
                    self._check,
                    request_deserializer=healthwire.decode_request,
                    response_serializer=healthwire.encode_response,
                ),
                "Watch": grpc.unary_stream_rpc_method_handler(
                    self._watch,
                    request_deserializer=healthwire.decode_request,
                    response_serializer=healthwire.encode_response,
                ),
            },
        )
        self._server.add_generic_rpc_handlers((handler,))

    async def start(self, host: str, port: int) -> int:
        """Start serving; return the bound port (useful when `port` is 0)."""
        bound = self._server.add_insecure_port(f"{host}:{port}")
        if bound == 0:
            raise OSError(f"cannot bind gRPC health to {host}:{port}")
        await self._server.start()
        await self.set_all(healthwire.SERVING)
        return int(bound)

    async def set_all(self, status: int) -> None:
        async with self._changed:
            for service in SERVICES:
                self._status[service] = status
            self._changed.notify_all()

    async def stop(self, grace: float = 1.0) -> None:
        await self.set_all(healthwire.NOT_SERVING)  # watchers hear it before the server goes
        await self._server.stop(grace)

    async def _check(self, service: str, context: Any) -> int:
        status = self._status.get(service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {service!r}")
        return status if status is not None else healthwire.SERVICE_UNKNOWN

    async def _watch(self, service: str, context: Any) -> AsyncIterator[int]:
        last: int | None = None
        while True:
            async with self._changed:
                status = self._status.get(service, healthwire.SERVICE_UNKNOWN)
                if status == last:
                    await self._changed.wait()
                    continue
            last = status
            yield status
