"""`grpc.health.v1.Health/Check` probes: SERVING means ready.

A fresh channel per probe, as the kubelet's gRPC probe does: a long-lived channel would sit in
its own reconnect backoff after an outage and report the target down longer than it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from runestone_sidecar import conditions, healthwire
from runestone_sidecar.probes import base


@dataclass(frozen=True)
class GrpcProbe:
    target: str  # host:port, as grpc names it
    service: str
    timeout: float

    @property
    def describe(self) -> str:
        shown = self.service or "(server)"
        return f"grpc.health.v1 Check {shown} at {self.target}"

    async def check(self) -> base.ProbeResult:
        async with grpc.aio.insecure_channel(self.target) as channel:
            check = channel.unary_unary(
                healthwire.CHECK,
                request_serializer=healthwire.encode_request,
                response_deserializer=healthwire.decode_response,
            )
            try:
                status = await check(self.service, timeout=self.timeout)
            except grpc.aio.AioRpcError as error:
                return _from_rpc_error(self.describe, error)
        if status == healthwire.SERVING:
            return base.success(f"{self.describe} answered SERVING")
        name = healthwire.status_name(status)
        return base.failure(conditions.NOT_SERVING, f"{self.describe} answered {name}")


def _from_rpc_error(what: str, error: grpc.aio.AioRpcError) -> base.ProbeResult:
    code = error.code()
    detail = " ".join((error.details() or "").split())[:200]
    message = f"{what} failed with {code.name}" + (f": {detail}" if detail else "")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return base.failure(conditions.PROBE_TIMEOUT, message)
    if code == grpc.StatusCode.UNAVAILABLE:
        return base.failure(conditions.TARGET_UNREACHABLE, message)
    if code == grpc.StatusCode.NOT_FOUND:  # the server does not know this service name
        return base.failure(conditions.NOT_SERVING, message)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return base.failure(conditions.UNAUTHORIZED, message)
    return base.failure(conditions.BAD_RESPONSE, message)


def target_from_url(url: str) -> str:
    """Accept `host:port`, `grpc://host:port` or `http://host:port` for the probe's target."""
    for prefix in ("grpc://", "http://", "dns:///"):
        if url.startswith(prefix):
            return url[len(prefix) :].rstrip("/")
    return url
