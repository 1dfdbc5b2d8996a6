"""How a VectorCluster is reached: the headless Service that gives members stable DNS names, the
client Service, the NetworkPolicy that keeps cluster-internal ports between members, and the
PodDisruptionBudget that lets one member at a time be evicted."""

from __future__ import annotations

from typing import Any

from runestone_operator import vectornames
from runestone_operator.builders import meta, vector_members, vector_meta


def _port(
    name: str, port: int, protocol: str = "TCP", target: int | str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "port": port, "protocol": protocol}
    if target is not None:
        entry["targetPort"] = target
    return entry


def headless_service(owner: meta.Owner) -> meta.Manifest:
    """Members are listed before they are ready: a starting member must find its peers."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": vector_meta.object_meta(owner, vectornames.headless_service(owner.name)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": vectornames.selector(owner.name),
            "ports": [
                _port("gossip", vectornames.GOSSIP_PORT),
                _port("gossip-udp", vectornames.GOSSIP_PORT, "UDP"),
                _port("data", vectornames.DATA_PORT),
                _port("raft", vectornames.RAFT_PORT),
                _port("raft-rpc", vectornames.RAFT_RPC_PORT),
            ],
        },
    }


def client_port(tls: bool) -> int:
    return 443 if tls else 80


def url(owner: meta.Owner, tls: bool) -> str:
    scheme = "https" if tls else "http"
    return f"{scheme}://{vectornames.client_service(owner.name)}.{owner.namespace}.svc:{client_port(tls)}"


def client_service(owner: meta.Owner, tls: bool) -> meta.Manifest:
    """Only members whose gate is True (pod Ready) receive client traffic."""
    scheme = "https" if tls else "http"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": vector_meta.object_meta(owner, vectornames.client_service(owner.name)),
        "spec": {
            "type": "ClusterIP",
            "selector": vectornames.selector(owner.name),
            "ports": [
                {**_port(scheme, client_port(tls), target="client"), "appProtocol": scheme},
                {**_port("grpc", vectornames.GRPC_PORT, target="grpc"), "appProtocol": "grpc"},
                _port("metrics", vectornames.METRICS_PORT, target="metrics"),
            ],
        },
    }


def network_policy(owner: meta.Owner, tls: bool) -> meta.Manifest:
    """Gossip, data and Raft only from the cluster's own members; the client, gRPC, metrics and
    sidecar ports from anywhere (narrow those with a policy of your own)."""
    members = {"podSelector": {"matchLabels": vectornames.selector(owner.name)}}
    internal = [
        {"port": vectornames.GOSSIP_PORT, "protocol": "TCP"},
        {"port": vectornames.GOSSIP_PORT, "protocol": "UDP"},
        {"port": vectornames.DATA_PORT, "protocol": "TCP"},
        {"port": vectornames.RAFT_PORT, "protocol": "TCP"},
        {"port": vectornames.RAFT_RPC_PORT, "protocol": "TCP"},
    ]
    public = [
        {"port": vector_members.client_port(tls), "protocol": "TCP"},
        {"port": vectornames.GRPC_PORT, "protocol": "TCP"},
        {"port": vectornames.METRICS_PORT, "protocol": "TCP"},
        {"port": vectornames.SIDECAR_PORT, "protocol": "TCP"},
        {"port": vectornames.SIDECAR_GRPC_PORT, "protocol": "TCP"},
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": vector_meta.object_meta(owner, vectornames.network_policy(owner.name)),
        "spec": {
            "podSelector": {"matchLabels": vectornames.selector(owner.name)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [members], "ports": internal}, {"ports": public}],
        },
    }


def pdb(owner: meta.Owner) -> meta.Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": vector_meta.object_meta(owner, vectornames.pdb(owner.name)),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": vectornames.selector(owner.name)},
        },
    }
