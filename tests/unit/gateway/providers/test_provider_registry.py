"""Providers are built from a table of provider types: every type the schema allows has a
constructor, and a type without one is a config error, never a silent fallback to the mock."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml

from runestone_gateway import config
from runestone_gateway.process import loader
from runestone_gateway.providers import anthropic, base, mock, openai, registry


def spec(type: str) -> config.Provider:
    entry = {"name": "up", "type": type, "models": [{"name": "m"}]}
    if type != "mock":
        entry["baseURL"] = "http://127.0.0.1:1/v1"
    return config.Provider.model_validate(entry)


def test_every_provider_type_of_the_schema_has_a_constructor() -> None:
    assert set(registry.CONSTRUCTORS) == set(typing.get_args(config.ProviderType))


@pytest.mark.parametrize(
    ("type", "expected"),
    [
        ("openai", openai.OpenAIProvider),
        ("anthropic", anthropic.AnthropicProvider),
        ("mock", mock.MockProvider),
    ],
)
async def test_each_type_builds_its_provider(type: str, expected: type[base.Provider]) -> None:
    provider = registry.create(spec(type), "sk-upstream" if type != "mock" else None)
    try:
        assert isinstance(provider, expected)
        assert provider.name == "up"
    finally:
        await provider.close()


async def test_a_type_without_a_constructor_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(registry.CONSTRUCTORS, "anthropic")
    with pytest.raises(registry.UnknownType, match=r"'up': type 'anthropic' is not one"):
        registry.create(spec("anthropic"), None)


def test_the_loader_names_a_type_without_a_constructor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(registry.CONSTRUCTORS, "anthropic")
    path = tmp_path / "gateway.yaml"
    provider = {"name": "claude", "type": "anthropic", "models": [{"name": "m"}]}
    path.write_text(yaml.safe_dump({"providerPools": [{"name": "p", "providers": [provider]}]}))
    with pytest.raises(loader.ConfigError) as raised:
        loader.load(path)
    message = str(raised.value)
    assert "pool 'p'" in message
    assert "provider 'claude': type 'anthropic' is not one this gateway serves" in message
    assert "(mock, openai)" in message
