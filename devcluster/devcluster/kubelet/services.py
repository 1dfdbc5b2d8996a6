"""Services for the pods the process kubelet runs: what cluster DNS and kube-proxy give a pod on a
real cluster (the gateway reaching its VectorCluster's client Service, say).

This host has neither, and its pods share its network. So, for the Services of the namespaces the
kubelet runs:

- **Names**: every container sees, at `/etc/hosts`, the host's own file followed by each
  Service's names (`<service>.<namespace>.svc` and `.svc.cluster.local`) on its ClusterIP, and
  each named pod of a headless Service (`<hostname>.<service>.<namespace>.svc`) on its address,
  as a kubelet manages a pod's `/etc/hosts`. The file is rewritten in place when Services or
  their endpoints change (a bind mount keeps the file it was given, not its name).
- **ClusterIPs**: the kubelet puts the cluster's Service network on the loopback interface and
  listens on each ClusterIP's TCP ports, forwarding each connection to a ready endpoint picked at
  random, at the port the endpoint serves (a named targetPort resolved per pod by the
  EndpointSlice), as kube-proxy does. A Service without a ready endpoint refuses the connection.

Headless Services get no ClusterIP and no name of their own here (their pods' names are enough
for what runs on this platform); UDP ports are not forwarded."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

log = logging.getLogger("devcluster.kubelet")

HOSTS_PATH = "/etc/hosts"
CONNECT_TIMEOUT = 5.0
Address = tuple[str, int]


@dataclass(frozen=True)
class Plan:
    """What the Services ask for: ClusterIP ports to the endpoints behind them, names to
    addresses."""

    routes: dict[Address, tuple[Address, ...]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


def plan(services: Iterable[Any], slices: Iterable[Any]) -> Plan:
    """The plan for Services and their EndpointSlices (kubernetes client objects)."""
    by_service: dict[tuple[str, str], list[Any]] = {}
    for piece in slices:
        service = (piece.metadata.labels or {}).get("kubernetes.io/service-name")
        if service:
            by_service.setdefault((piece.metadata.namespace, service), []).append(piece)
    found = Plan()
    for service in services:
        namespace, name = service.metadata.namespace, service.metadata.name
        domain = f"{name}.{namespace}.svc"
        pieces = by_service.get((namespace, name), [])
        ready = [
            endpoint
            for piece in pieces
            for endpoint in piece.endpoints or []
            if endpoint.addresses
            and (endpoint.conditions is None or endpoint.conditions.ready is not False)
        ]
        cluster_ip = service.spec.cluster_ip
        if cluster_ip in (None, "", "None"):
            for endpoint in ready:
                if endpoint.hostname:
                    found.names[f"{endpoint.hostname}.{domain}"] = endpoint.addresses[0]
            continue
        found.names[domain] = cluster_ip
        for port in service.spec.ports or []:
            if (port.protocol or "TCP") != "TCP":
                continue
            targets = {
                (endpoint.addresses[0], target)
                for piece in pieces
                for endpoint in piece.endpoints or []
                if endpoint in ready
                for target in [_target_port(port, piece)]
                if target is not None
            }
            found.routes[(cluster_ip, int(port.port))] = tuple(sorted(targets))
    return found


def _target_port(port: Any, piece: Any) -> int | None:
    """The port an endpoint of `piece` serves for Service port `port`: the slice's port of the
    same name (it resolves a named targetPort), else a numeric targetPort, else the port."""
    for served in piece.ports or []:
        if (served.name or "") == (port.name or "") and served.port is not None:
            return int(served.port)
    if isinstance(port.target_port, int):
        return port.target_port
    if port.target_port is None:
        return int(port.port)
    return None  # a named target port the slice does not resolve (no endpoint serves it)


def hosts_file(base: str, names: Mapping[str, str]) -> str:
    """The host's hosts file with the Services' names after it."""
    lines = [base.rstrip("\n"), "", "# Services (the process kubelet)"]
    for name in sorted(names):
        lines.append(f"{names[name]}\t{name} {name}.cluster.local")
    return "\n".join(lines) + "\n"


class Services:
    """Keeps the hosts file and the forwarders current; `refresh` from the kubelet's loop."""

    def __init__(self, api: client.ApiClient, workdir: Path) -> None:
        self.core = client.CoreV1Api(api)
        self.discovery = client.DiscoveryV1Api(api)
        self.hosts = workdir / "services" / "hosts"
        self.hosts.parent.mkdir(parents=True, exist_ok=True)
        self._base = Path(HOSTS_PATH).read_text() if os.path.exists(HOSTS_PATH) else ""
        self._written = ""
        self._write(hosts_file(self._base, {}))
        self.proxy = Proxy()

    def refresh(self, namespaces: Iterable[str]) -> None:
        services: list[Any] = []
        slices: list[Any] = []
        for namespace in sorted(namespaces):
            services += self.core.list_namespaced_service(namespace).items
            slices += self.discovery.list_namespaced_endpoint_slice(namespace).items
        wanted = plan(services, slices)
        self._write(hosts_file(self._base, wanted.names))
        self.proxy.serve(wanted.routes)

    def _write(self, text: str) -> None:
        """In place (containers hold the file's inode), all at once, only when it changed."""
        if text == self._written:
            return
        data = text.encode()
        descriptor = os.open(self.hosts, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(descriptor, data, 0)
            os.ftruncate(descriptor, len(data))
        finally:
            os.close(descriptor)
        self._written = text

    def close(self) -> None:
        self.proxy.close()


class Proxy:
    """TCP forwarders on ClusterIP ports, in an event loop of their own thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="service-proxy", daemon=True
        )
        self._thread.start()
        self._targets: dict[Address, tuple[Address, ...]] = {}
        self._servers: dict[Address, asyncio.base_events.Server] = {}

    def serve(self, routes: Mapping[Address, tuple[Address, ...]]) -> None:
        """Listen on every route's ClusterIP port, stop listening on the others; wait until done."""
        routes = dict(routes)
        asyncio.run_coroutine_threadsafe(self._serve(routes), self._loop).result()

    async def _serve(self, routes: dict[Address, tuple[Address, ...]]) -> None:
        self._targets = routes
        for address in list(self._servers):
            if address not in routes:
                self._servers.pop(address).close()
        for address in routes:
            if address in self._servers:
                continue
            host, port = address
            try:
                self._servers[address] = await asyncio.start_server(
                    functools.partial(self._forward, address), host, port
                )
            except OSError as error:
                log.warning("cannot serve Service address %s:%s: %s", host, port, error)

    async def _forward(
        self, address: Address, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        targets = list(self._targets.get(address, ()))
        random.shuffle(targets)
        for host, port in targets:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    upstream = await asyncio.open_connection(host, port)
            except (OSError, TimeoutError):
                continue
            await asyncio.gather(_pipe(reader, upstream[1]), _pipe(upstream[0], writer))
            upstream[1].close()
            writer.close()
            return
        writer.close()  # no ready endpoint answered: refused, as kube-proxy's REJECT does

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers.values():
                server.close()
            self._servers.clear()

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the end on (half-close); a reset ends both ways."""
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (ConnectionError, OSError):
        sink.close()
