"""Providers by type: one table from a provider type to its constructor. A type the table does
not hold is a config error (`UnknownType`), never a silent fallback to another provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from runestone_gateway import config
from runestone_gateway.providers import anthropic, base, mock, openai

Constructor = Callable[[config.Provider, str | None], base.Provider]
"""Builds a provider from its config entry and its API key (read by the loader), inside the
event loop: HTTP providers open their connection pool."""


class UnknownType(Exception):
    """The config names a provider type this gateway has no constructor for."""


def _mock(spec: config.Provider, api_key: str | None) -> base.Provider:
    return mock.MockProvider(spec)  # the schema refuses an API key for the mock


CONSTRUCTORS: Mapping[str, Constructor] = {
    "openai": openai.OpenAIProvider,
    "anthropic": anthropic.AnthropicProvider,
    "mock": _mock,
}


def check(spec: config.Provider) -> None:
    """Raise UnknownType unless `spec.type` has a constructor."""
    if spec.type not in CONSTRUCTORS:
        raise UnknownType(
            f"provider {spec.name!r}: type {spec.type!r} is not one this gateway serves "
            f"({', '.join(sorted(CONSTRUCTORS))})"
        )


def create(spec: config.Provider, api_key: str | None) -> base.Provider:
    """Must run inside the event loop. Raises UnknownType."""
    check(spec)
    return CONSTRUCTORS[spec.type](spec, api_key)
