"""Step 1, continued: the link to the VectorCluster `spec.vectorStores` names, read through the
`core.references.VectorClusterReader` the app hands the reconcile. It never blocks the reconcile:
a link that is not usable yet leaves `vectorStores` out of the config (those endpoints answer
that they are unavailable, every other API keeps serving) and says why in `VectorStoreReady`.

A link is usable when the cluster exists, the embedding model is one the Gateway's pools serve
as `embedding`, at least one member is ready, and every member accepts the key the cluster
issued this Gateway (members read keys only at start, so a new key waits for their rolling
restart)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from runestone_gateway import config
from runestone_operator.core import conditions, models, names, peers, references
from runestone_operator.core.conditions import Observation, Reason
from runestone_operator.gateway import model
from runestone_operator.gateway.builders import config as config_builder
from runestone_operator.gateway.context import Context
from runestone_operator.gateway.steps import pools as pool_step


@dataclass(frozen=True)
class Link:
    config: config.GatewayConfig
    """The rendered config, with `vectorStores` when the link is usable."""
    mounts: tuple[config_builder.SecretMount, ...] = ()
    """The gateway's key into the cluster and the cluster's CA (optional: mounted before they
    exist)."""
    observation: Observation | None = None
    """`VectorStoreReady`; None without `spec.vectorStores`."""


def _not_ready(reason: str, message: str) -> Observation:
    return Observation(conditions.VECTOR_STORE_READY, conditions.FALSE, reason, message)


def judge(
    gateway: str,
    spec: model.VectorStores,
    cluster: peers.VectorClusterView | None,
    pools: Sequence[peers.PoolView],
) -> tuple[Observation, peers.GatewayKey | None]:
    """`VectorStoreReady`, and the key to mount when the link is usable. Pure."""
    name = spec.vector_cluster_ref.name
    if cluster is None:
        return _not_ready(
            Reason.VECTOR_CLUSTER_NOT_FOUND,
            f"VectorCluster {name!r} does not exist in this namespace; create it or change "
            "vectorStores.vectorClusterRef",
        ), None
    embedding = sorted({model for pool in pools for model in pool.embedding_models()})
    if spec.embedding_model not in embedding:
        served = ", ".join(repr(model) for model in embedding) or "none"
        return _not_ready(
            Reason.EMBEDDING_MODEL_NOT_SERVED,
            f"vectorStores.embeddingModel {spec.embedding_model!r} is not an embedding model of "
            f"the Gateway's ProviderPools (embedding models served: {served})",
        ), None
    if cluster.ready_members < 1:
        return _not_ready(
            Reason.VECTOR_CLUSTER_NOT_READY, f"VectorCluster {name!r} has no ready member yet"
        ), None
    key = cluster.gateway_keys.get(gateway)
    if key is None or not key.accepted:
        where = "issued yet" if key is None else "accepted by every member yet (they restart)"
        return _not_ready(
            Reason.GATEWAY_KEY_PENDING,
            f"the gateway's key into VectorCluster {name!r} is not {where}",
        ), None
    ready = Observation(
        conditions.VECTOR_STORE_READY,
        conditions.TRUE,
        Reason.LINKED,
        f"files and vector stores are kept in VectorCluster {name!r} ({cluster.url})",
    )
    return ready, key


def link_mounts(
    gateway: str, name: str, cluster: peers.VectorClusterView | None
) -> list[config_builder.SecretMount]:
    """The key's Secret is named by rule (`<cluster>-key-gateway.<gateway>`); the CA is where the
    cluster publishes it, or, before the cluster exists, where its default TLS mode (selfSigned)
    will."""
    key = models.SecretKeySelector(
        name=names.key_secret(name, names.gateway_key(gateway)), key=names.API_KEY_DATA_KEY
    )
    if cluster is not None:
        ca = cluster.ca
    else:
        ca = models.SecretKeySelector(name=names.ca_secret(name), key=names.CA_DATA_KEY)
    return config_builder.vector_store_mounts(key, ca)


async def ensure_link(
    ctx: Context, read: references.VectorClusterReader, resolved: pool_step.Resolved
) -> Link:
    spec = ctx.spec.vector_stores
    if spec is None:
        return Link(resolved.config)
    name = spec.vector_cluster_ref.name
    cluster = await read(ctx.kube, ctx.namespace, name)
    mounts = tuple(link_mounts(ctx.name, name, cluster))
    observation, key = judge(ctx.name, spec, cluster, resolved.pools)
    if cluster is None or key is None:
        return Link(resolved.config, mounts, observation)
    if cluster.ca is not None and await references.missing_secret(
        ctx.kube, ctx.namespace, cluster.ca
    ):
        # A serving Secret of the user's without a bundle: the system's trust store decides.
        cluster = dataclasses.replace(cluster, ca=None)
    stores = config_builder.vector_stores(spec, cluster, mounts)
    # The embedding model was checked above, the only rule the whole config adds to the section.
    rendered = resolved.config.model_copy(update={"vector_stores": stores})
    return Link(rendered, mounts, observation)
