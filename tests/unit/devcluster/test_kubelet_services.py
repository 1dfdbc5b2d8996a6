"""The process kubelet's Services: names and ClusterIP ports from Services and EndpointSlices,
the pods' hosts file, a real TCP forwarder on loopback, and a file bound over a file."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from devcluster import processes
from devcluster.kubelet import containers, services

NS = "team"


def service(name: str, cluster_ip: str, ports: list[client.V1ServicePort]) -> client.V1Service:
    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name, namespace=NS),
        spec=client.V1ServiceSpec(cluster_ip=cluster_ip, ports=ports),
    )


def endpoint(address: str, ready: bool | None, hostname: str | None = None) -> client.V1Endpoint:
    conditions = None if ready is None else client.V1EndpointConditions(ready=ready)
    return client.V1Endpoint(addresses=[address], conditions=conditions, hostname=hostname)


def endpoint_slice(
    service_name: str, endpoints: list[client.V1Endpoint], ports: list[tuple[str, int]]
) -> client.V1EndpointSlice:
    return client.V1EndpointSlice(
        address_type="IPv4",
        metadata=client.V1ObjectMeta(
            name=f"{service_name}-abc",
            namespace=NS,
            labels={"kubernetes.io/service-name": service_name},
        ),
        endpoints=endpoints,
        ports=[client.DiscoveryV1EndpointPort(name=n, port=p) for n, p in ports],
    )


def test_a_cluster_ip_port_leads_to_the_ready_endpoints_at_the_port_they_serve() -> None:
    docs = service(
        "docs",
        "10.96.0.20",
        [
            client.V1ServicePort(name="https", port=443, target_port="client"),
            client.V1ServicePort(name="grpc", port=50051, target_port=50051),
        ],
    )
    slice_ = endpoint_slice(
        "docs",
        [endpoint("10.245.0.4", True), endpoint("10.245.0.5", None), endpoint("10.245.0.6", False)],
        [("https", 8443), ("grpc", 50051)],
    )
    found = services.plan([docs], [slice_])
    assert found.names == {"docs.team.svc": "10.96.0.20"}
    assert found.routes == {
        ("10.96.0.20", 443): (("10.245.0.4", 8443), ("10.245.0.5", 8443)),
        ("10.96.0.20", 50051): (("10.245.0.4", 50051), ("10.245.0.5", 50051)),
    }


def test_a_service_without_endpoints_is_named_and_refuses() -> None:
    lonely = service("lonely", "10.96.0.21", [client.V1ServicePort(port=80, target_port=8080)])
    found = services.plan([lonely], [])
    assert found.names == {"lonely.team.svc": "10.96.0.21"}
    assert found.routes == {("10.96.0.21", 80): ()}


def test_a_headless_services_named_pods_resolve_to_their_addresses() -> None:
    members = service("docs-headless", "None", [client.V1ServicePort(name="raft", port=8300)])
    slice_ = endpoint_slice(
        "docs-headless",
        [endpoint("10.245.0.4", True, "docs-0"), endpoint("10.245.0.7", True)],
        [("raft", 8300)],
    )
    found = services.plan([members], [slice_])
    assert found.names == {"docs-0.docs-headless.team.svc": "10.245.0.4"}
    assert found.routes == {}


def test_the_hosts_file_keeps_the_hosts_entries_and_adds_both_forms_of_each_name() -> None:
    text = services.hosts_file("127.0.0.1\tlocalhost\n", {"docs.team.svc": "10.96.0.20"})
    assert text.startswith("127.0.0.1\tlocalhost\n")
    assert "10.96.0.20\tdocs.team.svc docs.team.svc.cluster.local\n" in text


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(b"echo:" + data)


@pytest.fixture
def echo() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_proxy_forwards_a_cluster_ip_port_and_follows_changes(echo: int) -> None:
    proxy = services.Proxy()
    front = processes.free_port("127.0.0.1")
    try:
        proxy.serve({("127.0.0.1", front): (("127.0.0.1", echo),)})
        with socket.create_connection(("127.0.0.1", front), timeout=5) as connection:
            connection.sendall(b"ping")
            assert connection.recv(4096) == b"echo:ping"
        proxy.serve({("127.0.0.1", front): ()})  # no ready endpoint left: refused
        with socket.create_connection(("127.0.0.1", front), timeout=5) as connection:
            assert connection.recv(4096) == b""
        proxy.serve({})  # the Service is gone: nothing listens
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", front), timeout=5)
    finally:
        proxy.close()


def test_a_file_is_bound_over_a_file(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    launch = containers.Launch(
        argv=["true"],
        env={},
        mounts=[containers.Mount(hosts, "/etc/hosts", read_only=True)],
        uid=None,
        gid=None,
        read_only_root=False,
        scratch=tmp_path / "scratch",
    )
    script = containers.mount_script(launch)
    assert "mkdir -p /etc/hosts" not in script
    assert f"mount --bind {hosts} /etc/hosts" in script
