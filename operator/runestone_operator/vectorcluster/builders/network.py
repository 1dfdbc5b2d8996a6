"""How a VectorCluster is reached: the headless Service that gives members stable DNS names, the
client Service, the NetworkPolicy that keeps the engine's cluster-internal ports between members,
and the PodDisruptionBudget that lets one member at a time be evicted."""

from __future__ import annotations

from typing import Any

from runestone_operator.core import meta
from runestone_operator.core.builders import pdb as budget
from runestone_operator.vectorcluster import engine, names
from runestone_operator.vectorcluster.builders.cluster import Cluster


def _port(
    name: str, port: int, protocol: str = "TCP", target: int | str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "port": port, "protocol": protocol}
    if target is not None:
        entry["targetPort"] = target
    return entry


def headless_service(cluster: Cluster, db: engine.Engine) -> meta.Manifest:
    """Members are listed before they are ready: a starting member must find its peers."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": cluster.object_meta(names.headless_service(cluster.name)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": cluster.selector(),
            "ports": [_port(p.name, p.port, p.protocol) for p in db.peer_ports()],
        },
    }


def client_port(tls: bool) -> int:
    return 443 if tls else 80


def client_service(cluster: Cluster, db: engine.Engine, tls: bool) -> meta.Manifest:
    """Only members whose gate is True (pod Ready) receive client traffic."""
    scheme = "https" if tls else "http"
    extra = []
    for port in db.service_ports():
        entry = _port(port.name, port.port, port.protocol, target=port.name)
        if port.app_protocol:
            entry["appProtocol"] = port.app_protocol
        extra.append(entry)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": cluster.object_meta(names.client_service(cluster.name)),
        "spec": {
            "type": "ClusterIP",
            "selector": cluster.selector(),
            "ports": [
                {**_port(scheme, client_port(tls), target="client"), "appProtocol": scheme},
                *extra,
            ],
        },
    }


def network_policy(cluster: Cluster, db: engine.Engine, tls: bool) -> meta.Manifest:
    """The engine's peer ports only from the cluster's own members; the client, service and
    sidecar ports from anywhere (narrow those with a policy of your own)."""
    members = {"podSelector": {"matchLabels": cluster.selector()}}
    internal = [{"port": p.port, "protocol": p.protocol} for p in db.peer_ports()]
    public = [
        {"port": db.client_port(tls), "protocol": "TCP"},
        *({"port": p.port, "protocol": p.protocol} for p in db.service_ports()),
        {"port": names.SIDECAR_PORT, "protocol": "TCP"},
        {"port": names.SIDECAR_GRPC_PORT, "protocol": "TCP"},
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": cluster.object_meta(names.network_policy(cluster.name)),
        "spec": {
            "podSelector": {"matchLabels": cluster.selector()},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [members], "ports": internal}, {"ports": public}],
        },
    }


def pdb(cluster: Cluster) -> meta.Manifest:
    return budget.pdb(cluster.owner, names.pdb(cluster.name), cluster.labels(), cluster.selector())
