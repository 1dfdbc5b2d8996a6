"""Several test processes side by side each get a local cluster of their own: a folder, control
plane ports, pod networks and Weaviate host ports that no other one shares."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from unittest import mock

import pytest

from devcluster import layout, weaviate
from devcluster.kubelet import network


def _worker(index: int, environ: dict[str, str]) -> tuple[layout.Ports, str]:
    settings = dict(environ, **layout.worker_environment(index, environ))
    with mock.patch.dict(os.environ, settings, clear=True):
        return layout.Ports.from_env(), str(layout.cluster_dir())


def _host_ports(ports: layout.Ports) -> range:
    return range(ports.pod_host_ports, ports.pod_host_ports + 4 * weaviate.HOST_PORT_SLOTS)


@pytest.mark.parametrize("environ", [{}, {"RUNESTONE_CLUSTER_PORT_BASE": "24100"}])
def test_each_worker_has_ports_networks_and_a_folder_of_its_own(environ: dict[str, str]) -> None:
    workers = [_worker(index, environ) for index in range(len(layout.WORKER_HOST_PORTS))]
    folders = {folder for _, folder in workers}
    assert len(folders) == len(workers)
    control = [
        port
        for ports, _ in workers
        for name, port in dataclasses.asdict(ports).items()
        if name != "pod_host_ports"
    ]
    assert len(set(control)) == len(control)
    taken: set[int] = set()
    for ports, _ in workers:
        host = set(_host_ports(ports))
        assert max(host) < 32768  # below the ephemeral ports
        assert not host & taken
        assert not host & set(control)
        taken |= host
    blocks = [layout.process_network(ports) for ports, _ in workers]
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])


def test_worker_zero_keeps_the_named_cluster() -> None:
    assert layout.worker_environment(0, {"RUNESTONE_CLUSTER_DIR": "/x"}) == {}


def test_a_member_binds_in_its_clusters_range() -> None:
    address = str(network.Addresses(ipaddress.IPv4Network("10.245.16.0/20")).take("pod"))
    with mock.patch.dict(os.environ, {layout.HOST_PORTS_ENV: "12000"}):
        assert weaviate.host_ports(address).data in range(12000, 16000)


def test_more_workers_than_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 3"):
        layout.worker_environment(3, {})
