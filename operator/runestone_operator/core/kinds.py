"""The one list of custom-resource kinds the operator serves: their group, version, names and
short names. The CRDs, the operator's RBAC, the API paths and the watches all read it from here."""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "runestone.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class Kind:
    """One custom resource, by name."""

    name: str
    plural: str
    short_names: tuple[str, ...]

    @property
    def singular(self) -> str:
        return self.name.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


PROVIDER_POOL = Kind("ProviderPool", "providerpools", ("rspp",))
GATEWAY = Kind("Gateway", "gateways", ("rsgw",))
VECTOR_CLUSTER = Kind("VectorCluster", "vectorclusters", ("rsvc",))
ALL = (PROVIDER_POOL, GATEWAY, VECTOR_CLUSTER)
"""In the order a resync queues them: pools before the Gateways that read them."""
