"""How a VectorCluster learns which Gateways reference it (a `core.references.LinkReader`): each
of them is issued a key of its own into the cluster, revoked when the reference goes."""

from __future__ import annotations

from runestone_operator.core import kinds, kube
from runestone_operator.gateway import model


def referenced_cluster(body: kube.Object) -> str | None:
    """The VectorCluster a Gateway's `spec.vectorStores` names, None without one (or while the
    Gateway is being deleted: its key goes with it)."""
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return None
    stores = (body.get("spec") or {}).get("vectorStores") or {}
    name = (stores.get("vectorClusterRef") or {}).get("name")
    return name if isinstance(name, str) and name else None


async def read(client: kube.Kube, namespace: str, name: str) -> list[str]:
    """The Gateways of `namespace` that reference VectorCluster `name`, as the API server selects
    them by the CRD's selectable field; an API server that cannot (before Kubernetes 1.31) answers
    400, and then every Gateway of the namespace is read and judged here."""
    selector = f"{model.VECTOR_CLUSTER_FIELD.removeprefix('.')}={name}"
    try:
        gateways = await client.list(
            kinds.API_VERSION, kinds.GATEWAY.name, namespace, field_selector=selector
        )
    except kube.ApiError as error:
        if error.status != 400:
            raise
        gateways = await client.list(kinds.API_VERSION, kinds.GATEWAY.name, namespace)
    return sorted(
        gateway["metadata"]["name"] for gateway in gateways if referenced_cluster(gateway) == name
    )
