"""What the HTTP providers share: one pooled upstream client per provider with its timeout,
and the mapping of transport failures and upstream statuses to `UpstreamError`."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson

from runestone_gateway import errors
from runestone_gateway.providers import base
from runestone_gateway.transport import h1

MAX_ERROR_BODY = 64 * 1024
# Statuses that say the provider, not the request, is wrong: worth trying another provider.
PROVIDER_FAULT_STATUSES = frozenset({401, 403, 404, 408, 409})
JSON_BODY = b"content-type: application/json\r\n"
TRANSPORT_ERRORS = (TimeoutError, OSError, h1.ProtocolError)  # h1.ConnectError is an OSError


class Upstream:
    """Kept-alive connections to one provider. `timeout` bounds a whole answer, or for a stream
    the wait for its headers and each silence between chunks (both timed by the client's own
    timers on the answer, not by a timeout scope per call or per chunk)."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float, provider: str):
        self.pool = h1.Pool(base_url, {"user-agent": "runestone-gateway", **headers})
        self.timeout = timeout
        self.provider = provider

    async def post(self, path: str, body: bytes, headers: bytes = b"") -> bytes:
        """The body of a 200 answer; anything else raises UpstreamError. `headers` are extra
        header lines, each ending in CRLF."""
        try:
            response = await self.pool.request(
                "POST", path, body, JSON_BODY + headers, self.timeout
            )
            try:
                if response.status != 200:
                    raise await status_error(response, self.provider)
                raw = await response.read()
            except BaseException:
                response.close()
                raise
            response.release()
            return raw
        except TRANSPORT_ERRORS as error:
            raise transport_error(error, self.provider) from None

    async def open_stream(self, path: str, body: bytes, headers: bytes = b"") -> h1.Response:
        """A 200 answer whose body is still to come; anything else raises UpstreamError."""
        try:
            response = await self.pool.request(
                "POST", path, body, JSON_BODY + headers, self.timeout
            )
            if response.status != 200:
                try:
                    raise await status_error(response, self.provider)
                finally:
                    response.close()
            return response
        except TRANSPORT_ERRORS as error:
            raise transport_error(error, self.provider) from None

    async def chunks(self, response: h1.Response) -> AsyncGenerator[bytes, None]:
        """The body as it arrives; a silence longer than the timeout is a TIMEOUT failure."""
        response.limit_silence(self.timeout)
        while True:
            try:
                chunk = await response.next_chunk()
            except TRANSPORT_ERRORS as error:
                raise transport_error(error, self.provider) from None
            if chunk is None:
                return
            yield chunk

    async def probe(self, path: str, headers: bytes = b"") -> bool:
        """Whether GET `path` answers without a server error (the caller bounds the time)."""
        try:
            response = await self.pool.request("GET", self.pool.path(path), headers=headers)
        except TRANSPORT_ERRORS:
            return False
        response.close()
        return response.status < 500

    async def close(self) -> None:
        await self.pool.close()


def transport_error(error: BaseException, provider: str) -> base.UpstreamError:
    """Map what the client raises to the failure kinds routing understands."""
    if isinstance(error, TimeoutError):
        return base.UpstreamError(base.FailureKind.TIMEOUT, f"{provider}: timed out")
    if isinstance(error, h1.ProtocolError):
        return base.UpstreamError(base.FailureKind.PROTOCOL, f"{provider}: broken response body")
    return base.UpstreamError(
        base.FailureKind.CONNECT, f"{provider}: {type(error).__name__} while connecting"
    )


async def status_error(response: h1.Response, provider: str) -> base.UpstreamError:
    """The error for a non-2xx answer; REJECTED carries an envelope fit for the client."""
    status = response.status
    try:
        raw = await response.read(MAX_ERROR_BODY)
    except TRANSPORT_ERRORS:
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
