"""Gateway errors in the OpenAI envelope: `{"error": {"message", "type", "param", "code"}}`.

Every failure a client can see is a `GatewayError`; its status follows the errors contract in
docs/architecture.md. Messages name models and providers but never carry a key or a prompt.
"""

from __future__ import annotations

from typing import Any

import orjson

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
PERMISSION = "permission_error"
INSUFFICIENT_QUOTA = "insufficient_quota"
NOT_FOUND = "not_found_error"
UPSTREAM = "upstream_error"
SERVER = "server_error"
CLOSE = (b"connection", b"close")


class GatewayError(Exception):
    """An error answered to the client with `status` and the OpenAI error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str,
        code: str | None = None,
        param: str | None = None,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers

    def envelope(self) -> dict[str, Any]:
        return envelope(self.message, type=self.type, code=self.code, param=self.param)

    def body(self) -> bytes:
        return orjson.dumps(self.envelope())


def envelope(
    message: str, *, type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def malformed(message: str, *, param: str | None = None) -> GatewayError:
    return GatewayError(400, message, type=INVALID_REQUEST, code="invalid_request", param=param)


def broken_body() -> GatewayError:
    return malformed(
        "The request body's chunked framing is invalid (a chunk size that is not hexadecimal, "
        "or a chunk longer than its size)."
    )


def unauthorized(message: str) -> GatewayError:
    return GatewayError(
        401,
        message,
        type=AUTHENTICATION,
        code="invalid_api_key",
        headers=((b"www-authenticate", b"Bearer"),),
    )


def forbidden(message: str, *, code: str, param: str | None = None) -> GatewayError:
    return GatewayError(403, message, type=PERMISSION, code=code, param=param)


def model_not_found(model: str) -> GatewayError:
    return GatewayError(
        404,
        f"The model {model!r} does not exist or is not served by this gateway.",
        type=INVALID_REQUEST,
        code="model_not_found",
        param="model",
    )


def route_not_found(method: str, path: str) -> GatewayError:
    return GatewayError(404, f"No route for {method} {path}.", type=NOT_FOUND, code="not_found")


def method_not_allowed(method: str, path: str) -> GatewayError:
    return GatewayError(
        405, f"{method} is not allowed on {path}.", type=INVALID_REQUEST, code="method_not_allowed"
    )


def body_too_large(limit: int) -> GatewayError:
    return GatewayError(
        413,
        f"The request body is larger than the limit of {limit} bytes.",
        type=INVALID_REQUEST,
        code="request_too_large",
    )


def request_timeout(detail: str) -> GatewayError:
    """408 for a body that did not arrive in time; the connection closes with it."""
    return GatewayError(
        408,
        f"The request body did not arrive in time: {detail}.",
        type=INVALID_REQUEST,
        code="request_timeout",
        headers=(CLOSE,),
    )


def overloaded() -> GatewayError:
    """503 when the process holds as many request bytes as it may; the connection closes."""
    return GatewayError(
        503,
        "The gateway is holding as many request bodies as it may; try again shortly.",
        type=SERVER,
        code="overloaded",
        headers=((b"retry-after", b"1"), (b"retry-after-ms", b"1000"), CLOSE),
    )


def internal() -> GatewayError:
    return GatewayError(500, "The gateway failed to handle the request.", type=SERVER)
