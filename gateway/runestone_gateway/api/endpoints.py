"""The API's endpoints, one row each: the path, what the upstream is asked for, and the name of
the operation in metrics and the access log. The app looks a request's path up here once.

An endpoint to come (OpenAI's Responses, Anthropic's Messages) is a row of its own: a kind the
providers already serve, asked and answered in its own shape (and, for Messages, its own error
envelope)."""

from __future__ import annotations

from dataclasses import dataclass

from runestone_gateway import config


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    kind: config.Kind
    """What the upstream is asked for; routes are found by it and the model."""
    operation: str
    """OpenTelemetry's `gen_ai.operation.name` for it."""


GENERATION: dict[str, Endpoint] = {
    endpoint.path: endpoint
    for endpoint in (
        Endpoint("/v1/chat/completions", "chat", "chat"),
        Endpoint("/v1/completions", "completion", "text_completion"),
        Endpoint("/v1/embeddings", "embedding", "embeddings"),
    )
}
"""The endpoints that call an upstream (POST), by path."""

MODELS_PATH = "/v1/models"
"""GET: the models a key may use; `/v1/models/<name>`: one of them."""
