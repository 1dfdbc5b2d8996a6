"""What the HTTP providers share: one pooled session per provider, timeouts, and the mapping of
transport failures and upstream statuses to `UpstreamError`."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from runestone_gateway import errors
from runestone_gateway.providers import base

MAX_ERROR_BODY = 64 * 1024
# Statuses that say the provider, not the request, is wrong: worth trying another provider.
PROVIDER_FAULT_STATUSES = frozenset({401, 403, 404, 408, 409})


def session(*, headers: dict[str, str]) -> aiohttp.ClientSession:
    """A pooled session for one provider. Its timeouts are set per request."""
    connector = aiohttp.TCPConnector(
        limit=0,  # concurrency is bounded by clients and by the gateway's own limits
        ttl_dns_cache=60,
        keepalive_timeout=30,
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers={"user-agent": "runestone-gateway", **headers},
        raise_for_status=False,
        auto_decompress=True,
        # Clients share the session: an upstream cookie must never follow one client to another.
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def unary_timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)


def stream_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """For streams the limit applies to connecting and to each silence, not the whole answer."""
    return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)


def transport_error(error: BaseException, provider: str) -> base.UpstreamError:
    """Map what aiohttp raises to the failure kinds routing understands."""
    if isinstance(error, TimeoutError):
        return base.UpstreamError(base.FailureKind.TIMEOUT, f"{provider}: timed out")
    if isinstance(error, aiohttp.ClientPayloadError):
        return base.UpstreamError(base.FailureKind.PROTOCOL, f"{provider}: broken response body")
    return base.UpstreamError(
        base.FailureKind.CONNECT, f"{provider}: {type(error).__name__} while connecting"
    )


async def status_error(response: aiohttp.ClientResponse, provider: str) -> base.UpstreamError:
    """The error for a non-2xx answer; REJECTED carries an envelope fit for the client."""
    status = response.status
    try:
        raw = await response.content.read(MAX_ERROR_BODY)
    except (TimeoutError, aiohttp.ClientError):
        raw = b""
    detail = f"{provider}: upstream answered {status}"
    if status == 429:
        return base.UpstreamError(base.FailureKind.RATE_LIMITED, detail, status=status)
    if status >= 500 or status in PROVIDER_FAULT_STATUSES or status < 400:
        return base.UpstreamError(base.FailureKind.STATUS, detail, status=status)
    return base.UpstreamError(
        base.FailureKind.REJECTED, detail, status=status, envelope=client_envelope(raw, status)
    )


def client_envelope(raw: bytes, status: int) -> dict[str, Any]:
    """The upstream's own error message in the OpenAI envelope (OpenAI or Anthropic shape)."""
    message = f"The upstream refused the request ({status})."
    type_ = errors.INVALID_REQUEST
    code: str | None = None
    param: str | None = None
    try:
        parsed = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        if isinstance(error.get("message"), str):
            message = error["message"]
        if isinstance(error.get("type"), str):
            type_ = error["type"]
        if isinstance(error.get("code"), str):
            code = error["code"]
        if isinstance(error.get("param"), str):
            param = error["param"]
    return errors.envelope(message, type=type_, code=code, param=param)


def json_object(raw: bytes, provider: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise base.UpstreamError(
            base.FailureKind.PROTOCOL, f"{provider}: answer is not a JSON object"
        )
    return parsed
