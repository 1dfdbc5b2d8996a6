"""Thin Kopf handlers: each watch event only adds a key to the work queue (a follower's `enqueue`
drops it). Kopf brings the watches (with explicit timeouts) and the ProviderPool -> Gateway and
VectorCluster -> Gateway indexes; the liveness endpoint is the operator's own (`core.endpoints`).

A Gateway's event also queues the VectorCluster it references, and the one it referenced before
(which revokes its key): only when that reference changes, so that the Gateway's own status
writes do not reconcile the cluster each time. Which cluster each Gateway referenced last is kept
by the registry (an index cannot tell it: it is updated before the handler runs); after a
restart the resync queues every cluster anyway."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kopf

from runestone_operator.core import health, kinds, names
from runestone_operator.gateway import linking
from runestone_operator.gateway import names as gateway_names
from runestone_operator.vectorcluster import names as vector_names

Key = tuple[str, str, str]
"""(kind, namespace, name) of an object to reconcile."""

WATCH_SERVER_TIMEOUT = 300
"""Ask the API server to end each watch after this long; Kopf then re-establishes it."""
WATCH_CLIENT_TIMEOUT = 330
"""Give up on a watch request the server keeps open past its own timeout."""
CONNECT_TIMEOUT = 10
INDEX = "gateways_by_pool"
"""ProviderPool (namespace, name) -> names of the Gateways that use it."""
VECTOR_INDEX = "gateways_by_vectorcluster"
"""VectorCluster (namespace, name) -> names of the Gateways that reference it."""


class Links:
    """Which VectorCluster each Gateway referenced at its last event (an index cannot tell: it
    is updated before the handler runs)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], str] = {}

    def seen(self, namespace: str, gateway: str, cluster: str | None) -> tuple[str, ...]:
        """Record that `gateway` now references `cluster` (None: none, or deleted); the clusters
        to reconcile because of it: both the old and the new one when the reference changed,
        none when it did not."""
        where = (namespace, gateway)
        before = self._last.pop(where, None)
        if cluster is not None:
            self._last[where] = cluster
        if before == cluster:
            return ()
        return tuple(name for name in (before, cluster) if name is not None)


class _NoDiffBase(kopf.DiffBaseStorage):
    """Kopf keeps, for change handlers, each object's last handled "essence" and builds a new one
    for every watch event: a deep copy of the whole object. The operator has event handlers only
    (its work queue reads the objects afresh), so the essence would be built and never read."""

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def kopf_settings() -> kopf.OperatorSettings:
    configured = kopf.OperatorSettings()
    configured.persistence.diffbase_storage = _NoDiffBase()
    # Silent watch stalls are Kopf's best-known failure: bound every watch explicitly.
    configured.watching.server_timeout = WATCH_SERVER_TIMEOUT
    configured.watching.client_timeout = WATCH_CLIENT_TIMEOUT
    configured.watching.connect_timeout = CONNECT_TIMEOUT
    configured.networking.connect_timeout = CONNECT_TIMEOUT
    configured.networking.request_timeout = 60.0
    # The operator posts its own Events; Kopf's per-handler events would only add noise.
    configured.posting.enabled = False
    # No CRD or namespace scanning: the watched resources are fixed and known.
    configured.scanning.disabled = True
    return configured


def build_registry(
    enqueue: Callable[[Key], None], heartbeat: health.Heartbeat
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(id="login", registry=registry)
    async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return await kopf.login_via_async_client(**kwargs)

    group, version = kinds.GROUP, kinds.VERSION
    gateway, pool, vector = kinds.GATEWAY, kinds.PROVIDER_POOL, kinds.VECTOR_CLUSTER

    @kopf.index(group, version, gateway.plural, id=INDEX, registry=registry)
    async def gateways_by_pool(
        namespace: str | None, name: str, spec: kopf.Spec, **_: Any
    ) -> dict[tuple[str, str], str]:
        return {(namespace or "", ref["name"]): name for ref in spec.get("providerPools") or []}

    @kopf.index(group, version, gateway.plural, id=VECTOR_INDEX, registry=registry)
    async def gateways_by_vectorcluster(
        namespace: str | None, name: str, body: kopf.Body, **_: Any
    ) -> dict[tuple[str, str], str]:
        cluster = linking.referenced_cluster(dict(body))
        return {(namespace or "", cluster): name} if cluster else {}

    links = Links()

    @kopf.on.event(group, version, gateway.plural, id="gateway", registry=registry)
    async def gateway_event(
        namespace: str | None, name: str, body: kopf.Body, **kwargs: Any
    ) -> None:
        heartbeat.watch_event()
        enqueue((gateway.name, namespace or "", name))
        deleted = kwargs.get("type") == "DELETED"
        cluster = None if deleted else linking.referenced_cluster(dict(body))
        for changed in links.seen(namespace or "", name, cluster):
            enqueue((vector.name, namespace or "", changed))

    @kopf.on.event(group, version, pool.plural, id="providerpool", registry=registry)
    async def pool_event(namespace: str | None, name: str, **kwargs: Any) -> None:
        # Kopf passes each index as a keyword argument named after it.
        gateways_by_pool: kopf.Index[tuple[str, str], str] = kwargs[INDEX]
        heartbeat.watch_event()
        enqueue((pool.name, namespace or "", name))
        for user in gateways_by_pool.get((namespace or "", name), []):
            enqueue((gateway.name, namespace or "", user))

    @kopf.on.event(
        "apps",
        "v1",
        "deployments",
        labels={names.LABEL_MANAGED_BY: names.MANAGED_BY, names.LABEL_NAME: gateway_names.APP},
        id="gateway-deployment",
        registry=registry,
    )
    async def deployment_event(namespace: str | None, labels: Mapping[str, str], **_: Any) -> None:
        # Rollout progress and hand edits of a gateway Deployment: reconcile its Gateway.
        heartbeat.watch_event()
        owner = labels.get(names.LABEL_INSTANCE)
        if owner and namespace:
            enqueue((gateway.name, namespace, owner))

    @kopf.on.event(group, version, vector.plural, id="vectorcluster", registry=registry)
    async def vectorcluster_event(namespace: str | None, name: str, **kwargs: Any) -> None:
        gateways_by_vectorcluster: kopf.Index[tuple[str, str], str] = kwargs[VECTOR_INDEX]
        heartbeat.watch_event()
        enqueue((vector.name, namespace or "", name))
        # Its readiness, its keys for Gateways, its deletion: each user's link is judged again.
        for user in gateways_by_vectorcluster.get((namespace or "", name), []):
            enqueue((gateway.name, namespace or "", user))

    vector_children = {names.LABEL_MANAGED_BY: names.MANAGED_BY, names.LABEL_NAME: vector_names.APP}

    @kopf.on.event(
        "apps", "v1", "statefulsets", labels=vector_children, id="vector-sts", registry=registry
    )
    @kopf.on.event("", "v1", "pods", labels=vector_children, id="vector-pod", registry=registry)
    async def vector_child_event(
        namespace: str | None, labels: Mapping[str, str], **_: Any
    ) -> None:
        # Members coming and going, their gates flipping: the rolling restart's next step.
        heartbeat.watch_event()
        owner = labels.get(names.LABEL_INSTANCE)
        if owner and namespace:
            enqueue((vector.name, namespace, owner))

    return registry
