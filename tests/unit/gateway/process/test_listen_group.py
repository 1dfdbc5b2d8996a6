"""`server.bind_group`: the API sockets of `--workers N`, one per worker on one port, among which
the kernel spreads new connections; a port someone else holds is refused as `bind` refuses it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from runestone_gateway.process import server

CONNECTIONS = 64


@pytest.fixture
def group() -> Iterator[list[socket.socket]]:
    sockets = server.bind_group("127.0.0.1", 0, 2)
    yield sockets
    for sock in sockets:
        sock.close()


def _reuseport(sock: socket.socket) -> int:
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)


def _accept_all(sock: socket.socket) -> int:
    sock.setblocking(False)
    accepted = 0
    while True:
        try:
            connection, _ = sock.accept()
        except BlockingIOError:
            return accepted
        connection.close()
        accepted += 1


def test_each_worker_gets_a_socket_of_its_own_on_one_port(group: list[socket.socket]) -> None:
    first, second = group
    assert first.fileno() != second.fileno()
    assert first.getsockname() == second.getsockname()
    assert _reuseport(first)
    assert _reuseport(second)


def test_a_burst_of_connections_is_spread_over_the_group(group: list[socket.socket]) -> None:
    """64 connections made at once, before either socket accepts: each socket's queue holds a
    share. (On one shared socket the first worker to wake would accept all of them.) The kernel
    picks by a hash of each connection's addresses, so the split varies as a fair coin's would:
    under 12 of 64 on either side is a chance of one in ten million."""
    port = group[0].getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(CONNECTIONS)]
    try:
        shares = [_accept_all(sock) for sock in group]
    finally:
        for client in clients:
            client.close()
    assert sum(shares) == CONNECTIONS
    assert min(shares) >= 12, shares


def test_a_port_another_listener_holds_is_refused(group: list[socket.socket]) -> None:
    """A second gateway on the port of a running one fails to start, workers or not, rather than
    joining its group and sharing its connections."""
    port = group[0].getsockname()[1]
    with pytest.raises(OSError, match="in use"):
        server.bind_group("127.0.0.1", port, 2)
    with pytest.raises(OSError, match="in use"):
        server.bind("127.0.0.1", port)
    plain = server.bind("127.0.0.1", 0)
    try:
        with pytest.raises(OSError, match="in use"):
            server.bind_group("127.0.0.1", plain.getsockname()[1], 2)
    finally:
        plain.close()


def test_one_worker_keeps_a_plain_socket() -> None:
    (only,) = server.bind_group("127.0.0.1", 0, 1)
    try:
        assert not _reuseport(only)
    finally:
        only.close()
