"""`processes.free_port`: ports a child process can bind, that nothing else on the host is handed
between the moment one is chosen and the moment the child binds it."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path
from unittest import mock

import pytest

from devcluster import layout, processes


def _ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_the_ranges_are_clear_of_the_ephemeral_range_and_of_the_local_clusters() -> None:
    cluster_ports = [
        *(range(base, base + 4 * 1000) for base in layout.WORKER_HOST_PORTS),
        range(23790, 27400),
    ]
    for low, high in processes.FREE_PORT_RANGES:
        assert high <= _ephemeral_low()
        for taken in cluster_ports:
            assert high <= taken.start or low >= taken.stop, (low, high, taken)
    edges = sorted(processes.FREE_PORT_RANGES)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(edges))


@pytest.mark.parametrize("worker", ["", "gw0", "gw1", "gw2"])
def test_a_port_is_handed_out_once_per_lap_of_the_worker_s_own_range(worker: str) -> None:
    with (
        mock.patch.dict("os.environ", {"PYTEST_XDIST_WORKER": worker}),
        mock.patch.dict(processes._next_free_port, clear=True),
    ):
        low, high = processes._free_port_range()
        ports = [processes.free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(low <= port < high for port in ports)


def test_a_port_something_listens_on_is_passed_over() -> None:
    low, _ = processes._free_port_range()
    with (
        mock.patch.dict(processes._next_free_port, {"127.0.0.1": low + 10}),
        socket.socket() as taken,
    ):
        taken.bind(("127.0.0.1", low + 10))
        taken.listen()
        assert processes.free_port() > low + 10
