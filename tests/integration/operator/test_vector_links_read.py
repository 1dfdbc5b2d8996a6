"""Which Gateways reference a VectorCluster (`linking.read`, read by every VectorCluster
reconcile): the API server selects them by the Gateway CRD's selectable field, so a namespace of
many Gateways is not read whole for each cluster; where a field cannot be selected (an API server
before Kubernetes 1.31 answers 400), every Gateway of the namespace is read and judged here."""

from __future__ import annotations

import pytest
from kubernetes import client

from devcluster.kube import Cluster
from integration.operator import objects
from runestone_operator.gateway import linking, model

STORES = {"embeddingModel": "mock-embedding"}
RESOURCE = "gateways.runestone.dev"


def _gateway(name: str, cluster: str | None) -> dict[str, object]:
    if cluster is None:
        return objects.gateway(name)
    return objects.gateway(name, vectorStores={**STORES, "vectorClusterRef": {"name": cluster}})


async def test_the_gateways_naming_a_cluster_are_selected_by_the_api_server(
    kube_cluster: Cluster,
    kube_api: client.ApiClient,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, cluster in (("a", "docs"), ("b", "other"), ("c", None), ("d", "docs")):
        objects.create(kube_api, namespace, _gateway(name, cluster))
    calls: list[tuple[str, str, int]] = []

    def observe(verb: str, resource: str, status: int) -> None:
        calls.append((verb, resource, status))

    async with objects.operator_client(kube_cluster.kubeconfig, observe) as connection:
        assert await linking.read(connection, namespace, "docs") == ["a", "d"]
        assert calls == [("list", RESOURCE, 200)]  # one list, selected by the API server
        assert await linking.read(connection, namespace, "nothing") == []

        calls.clear()
        monkeypatch.setattr(model, "VECTOR_CLUSTER_FIELD", ".spec.replicas")  # not selectable
        assert await linking.read(connection, namespace, "docs") == ["a", "d"]
        assert calls == [("list", RESOURCE, 400), ("list", RESOURCE, 200)]
