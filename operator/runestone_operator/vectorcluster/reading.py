"""How other kinds read a VectorCluster (a `core.references.VectorClusterReader`): where its
clients connect, what they trust, its replication factor, how many members serve, and the keys it
issued the Gateways that reference it."""

from __future__ import annotations

import pydantic

from runestone_operator.core import kinds, kube, models, peers
from runestone_operator.core import names as core_names
from runestone_operator.vectorcluster import model, names
from runestone_operator.vectorcluster.builders import network

DEFAULT_REPLICATION_FACTOR = 1
"""What the engine gives a new collection when `spec.replicationFactor` is unset."""


def ca_source(name: str, spec: model.VectorClusterSpec) -> models.SecretKeySelector | None:
    """The Secret key holding the CA bundle clients trust the cluster's serving certificate with:
    the operator CA's published bundle (`<name>-ca`), else the `ca.crt` next to the serving pair
    (the user's Secret, cert-manager's); None for plain HTTP."""
    mode = spec.tls.mode
    if mode == "none":
        return None
    if mode == "selfSigned":
        secret = names.ca_secret(name)
    elif mode == "secret":
        assert spec.tls.secret_name is not None  # guaranteed by the CRD's CEL rule
        secret = spec.tls.secret_name
    else:
        secret = names.tls_secret(name)
    return models.SecretKeySelector(name=secret, key=core_names.CA_DATA_KEY)


def client_url(name: str, namespace: str, spec: model.VectorClusterSpec) -> str:
    """The client Service's URL."""
    tls = spec.tls.mode != "none"
    scheme = "https" if tls else "http"
    return f"{scheme}://{names.client_service(name)}.{namespace}.svc:{network.client_port(tls)}"


def view(
    name: str, namespace: str, spec: model.VectorClusterSpec, status: model.VectorClusterStatus
) -> peers.VectorClusterView:
    return peers.VectorClusterView(
        name=name,
        url=client_url(name, namespace, spec),
        ca=ca_source(name, spec),
        replication_factor=spec.replication_factor or DEFAULT_REPLICATION_FACTOR,
        ready_members=status.ready_replicas or 0,
        gateway_keys={
            key.gateway: peers.GatewayKey(
                models.SecretKeySelector(name=key.secret_name, key=core_names.API_KEY_DATA_KEY),
                key.accepted,
            )
            for key in status.gateway_keys
        },
    )


async def read(client: kube.Kube, namespace: str, name: str) -> peers.VectorClusterView | None:
    body = await client.get(kinds.API_VERSION, kinds.VECTOR_CLUSTER.name, namespace, name)
    if body is None:
        return None
    try:
        spec = model.VectorClusterSpec.model_validate(body.get("spec") or {})
        status = model.VectorClusterStatus.model_validate(body.get("status") or {})
    except pydantic.ValidationError:
        # What the API server admitted but this operator cannot read has no usable link yet:
        # the cluster's own reconcile reports it.
        return peers.VectorClusterView(name, "", None, DEFAULT_REPLICATION_FACTOR, 0)
    return view(name, namespace, spec, status)
