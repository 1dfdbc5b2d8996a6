"""What one kind reads of another kind's objects, declared here so that kinds never import each
other: the values that cross between them (the readers' signatures are in `references`). The app
hands each reconcile the readers it needs (today: a Gateway reads the ProviderPools it names).
Pure data."""

from __future__ import annotations

from dataclasses import dataclass

from runestone_gateway import config
from runestone_operator.core import models


@dataclass(frozen=True)
class Credential:
    """One provider's API key: the Secret key it is read from."""

    provider: str
    ref: models.SecretKeySelector


@dataclass(frozen=True)
class PoolView:
    """A ProviderPool as a Gateway uses it: the pool in the gateway's own config schema (each
    provider's key file under `core.names.provider_key_dir`), and where those keys come from."""

    name: str
    config: config.ProviderPool
    credentials: tuple[Credential, ...]

    def model_names(self) -> list[str]:
        """Every model name some provider of this pool serves, sorted."""
        return sorted(
            {model.name for provider in self.config.providers for model in provider.models}
        )
