"""Build a provider from its config entry and its API key (read by the loader)."""

from __future__ import annotations

from runestone_gateway import config
from runestone_gateway.providers import anthropic, base, mock, openai


def create(spec: config.Provider, api_key: str | None) -> base.Provider:
    """Must run inside the event loop: HTTP providers open their connection pool here."""
    if spec.type == "openai":
        return openai.OpenAIProvider(spec, api_key)
    if spec.type == "anthropic":
        return anthropic.AnthropicProvider(spec, api_key)
    return mock.MockProvider(spec)
