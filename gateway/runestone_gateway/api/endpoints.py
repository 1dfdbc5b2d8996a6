"""The API's endpoints, one row each: everything an endpoint is, in one place. The app looks a
request's path up here once and reads the row for the rest.

A row says: the path; what a model must serve to be routed to (`kind`: routes are found by it
and the model); the name of the operation in metrics and the access log (OpenTelemetry's
`gen_ai.operation.name`); how a request is checked (`check`) and its prompt tokens estimated
for the key's limits (`estimate`); how each upstream is asked and its answer shaped, usage
included (`plan`); and the envelope its errors are answered in (`errors`).

The OpenAI endpoints have no plan: every provider answers their kinds in OpenAI's shape (the
Anthropic provider translating, the OpenAI one passing through), the answer goes to the client
as it is, and the provider reads its usage. Endpoints with an API of their own (`api`:
Responses, Messages) have a plan: a provider that speaks that API gets the request as it is, any
other gets it translated to Chat Completions, and the plan shapes the answer back. Adding an
endpoint is adding a row here, and a plan module when it speaks an API of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from runestone_gateway import config, errors
from runestone_gateway.admission import auth
from runestone_gateway.api import (
    asgi,
    messages,
    plans,
    responses,
    searches,
    stored,
    tokens,
    validate,
)
from runestone_gateway.failover import routing

Planner = Callable[
    [validate.Request, routing.Route, auth.Principal, plans.Serving, asgi.Scope],
    Awaitable[plans.Plan],
]
"""Makes a request's plan once it is checked and routed (reading what it needs: a continued
response, the client's headers); raises GatewayError for a request it cannot serve."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    kind: config.Kind
    """What the model must serve; routes are found by it and the model."""
    operation: str
    """OpenTelemetry's `gen_ai.operation.name` for it."""
    check: Callable[[bytes], validate.Request]
    """The request body's checks: a 400 GatewayError naming the field, or the request."""
    estimate: Callable[[validate.Request], int] | None = None
    """Prompt tokens, taken from the key's tokens-per-minute limit before the call; None where
    the plan estimates (it knows more: a continued response's earlier items)."""
    plan: Planner | None = None
    """How upstreams are asked and answers shaped; None: as the provider answers the kind."""
    api: config.UpstreamApi | None = None
    """The API the endpoint speaks, which providers that speak it get as it is."""
    errors: Callable[[errors.GatewayError], bytes] = errors.GatewayError.body
    """An error's body: OpenAI's envelope, or Anthropic's on its endpoints."""


def _kind(kind: config.Kind) -> Callable[[bytes], validate.Request]:
    def check(raw: bytes) -> validate.Request:
        return validate.parse(kind, raw)

    return check


GENERATION: dict[str, Endpoint] = {
    endpoint.path: endpoint
    for endpoint in (
        Endpoint("/v1/chat/completions", "chat", "chat", _kind("chat"), tokens.estimate),
        Endpoint(
            "/v1/completions", "completion", "text_completion", _kind("completion"), tokens.estimate
        ),
        Endpoint("/v1/embeddings", "embedding", "embeddings", _kind("embedding"), tokens.estimate),
        Endpoint(
            "/v1/responses",
            "chat",
            "chat",
            responses.check,
            plan=searches.plan,
            api="responses",
        ),
        Endpoint(
            "/v1/messages",
            "chat",
            "chat",
            messages.check,
            plan=messages.plan,
            api="messages",
            errors=errors.anthropic_body,
        ),
        Endpoint(
            "/v1/messages/count_tokens",
            "chat",
            "count_tokens",  # OpenTelemetry names no operation for it
            messages.check_count,
            plan=messages.count_plan,
            api="messages",
            errors=errors.anthropic_body,
        ),
    )
}
"""The endpoints that call an upstream (POST), by path."""

MODELS_PATH = "/v1/models"
"""GET: the models a key may use; `/v1/models/<name>`: one of them."""

STORED_RESPONSES = stored.PREFIX
"""`/v1/responses/{id}` (GET, DELETE) and `/v1/responses/{id}/input_items` (GET)."""


def error_body(path: str) -> Callable[[errors.GatewayError], bytes]:
    """How errors on `path` are answered: its endpoint's envelope; Anthropic's anywhere under
    `/v1/messages`, OpenAI's elsewhere."""
    endpoint = GENERATION.get(path)
    if endpoint is not None:
        return endpoint.errors
    return errors.anthropic_body if path.startswith("/v1/messages") else errors.GatewayError.body
