"""What one kind reads of another kind's objects, declared here so that kinds never import each
other: the values that cross between them (the readers' signatures are in `references`). The app
hands each reconcile the readers it needs: a Gateway reads the ProviderPools and the
VectorCluster it names; a VectorCluster reads which Gateways reference it. Pure data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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

    def embedding_models(self) -> list[str]:
        """The models some provider of this pool serves as `embedding`, sorted."""
        return sorted(
            {
                model.name
                for provider in self.config.providers
                for model in provider.models
                if "embedding" in model.kinds
            }
        )


@dataclass(frozen=True)
class GatewayKey:
    """The key a VectorCluster issued one Gateway: its Secret, and whether every member accepts
    it yet."""

    secret: models.SecretKeySelector
    accepted: bool


@dataclass(frozen=True)
class VectorClusterView:
    """A VectorCluster as a Gateway that references it uses it."""

    name: str
    url: str
    """The client Service's URL (https when the cluster serves TLS)."""
    ca: models.SecretKeySelector | None
    """The CA bundle clients trust the cluster with; None: plain HTTP, or the system's trust."""
    replication_factor: int
    ready_members: int
    gateway_keys: Mapping[str, GatewayKey] = field(default_factory=dict)
    """By Gateway name."""
