"""How a VectorCluster learns which Gateways reference it (a `core.references.LinkReader`): each
of them is issued a key of its own into the cluster, revoked when the reference goes."""

from __future__ import annotations

from runestone_operator.core import kinds, kube


def referenced_cluster(body: kube.Object) -> str | None:
    """The VectorCluster a Gateway's `spec.vectorStores` names, None without one (or while the
    Gateway is being deleted: its key goes with it)."""
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return None
    stores = (body.get("spec") or {}).get("vectorStores") or {}
    name = (stores.get("vectorClusterRef") or {}).get("name")
    return name if isinstance(name, str) and name else None


async def read(client: kube.Kube, namespace: str, name: str) -> list[str]:
    gateways = await client.list(kinds.API_VERSION, kinds.GATEWAY.name, namespace)
    return sorted(
        gateway["metadata"]["name"] for gateway in gateways if referenced_cluster(gateway) == name
    )
