"""Gateway errors in the OpenAI envelope: `{"error": {"message", "type", "param", "code"}}`,
or on Anthropic's Messages endpoints in Anthropic's: `{"type": "error", "error": {"type",
"message"}}` with Anthropic's error types (`anthropic_body`).

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


ANTHROPIC_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
    529: "overloaded_error",
}
"""Anthropic's error type for each status the gateway answers with; any other 4xx is an
`invalid_request_error`, any other 5xx an `api_error`, as Anthropic's own API answers."""


def anthropic_type(status: int) -> str:
    return ANTHROPIC_TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")


def anthropic_envelope(status: int, message: str, type: str | None = None) -> dict[str, Any]:
    """Anthropic's error body. A specific error type of Anthropic's own (an Anthropic
    upstream's refusal passed on) is kept; any other is Anthropic's type for the status (an
    OpenAI `invalid_request_error` with 404 is Anthropic's `not_found_error`)."""
    if type not in _ANTHROPIC_TYPE_NAMES or type == "invalid_request_error":
        type = anthropic_type(status)
    return {"type": "error", "error": {"type": type, "message": message}}


_ANTHROPIC_TYPE_NAMES = frozenset(ANTHROPIC_TYPES.values())


def anthropic_body(error: GatewayError) -> bytes:
    """The error in Anthropic's envelope, which has no `param`: the message names the field
    (as Anthropic's own do, `messages.0.content: ...`)."""
    message = error.message
    if error.param and error.param not in message:
        message = f"{error.param}: {message}"
    return orjson.dumps(anthropic_envelope(error.status, message, error.type))


def malformed(message: str, *, param: str | None = None) -> GatewayError:
    return GatewayError(400, message, type=INVALID_REQUEST, code="invalid_request", param=param)


def broken_body() -> GatewayError:
    return malformed(
        "The request body's chunked framing is invalid (a chunk size that is not hexadecimal, "
        "or a chunk longer than its size)."
    )


def invalid(
    message: str, *, code: str, param: str | None = None, status: int = 400
) -> GatewayError:
    """A request that cannot be served as it stands, with its own code (a missing stored
    response, a feature that needs configuring)."""
    return GatewayError(status, message, type=INVALID_REQUEST, code=code, param=param)


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
