"""The process kubelet's pod addresses: fresh in turn, held until the pod's processes are gone."""

from __future__ import annotations

import ipaddress

import pytest

from devcluster import weaviate
from devcluster.kubelet import network

NETWORK = ipaddress.IPv4Network("10.245.16.0/20")


def test_a_released_address_is_not_handed_out_again_at_once() -> None:
    addresses = network.Addresses(NETWORK, size=3)
    first = addresses.take("old")
    addresses.release("old")  # the pod's last process has exited
    assert addresses.take("replacement") != first
    assert addresses.take("another") != first


def test_a_held_address_is_never_handed_out() -> None:
    addresses = network.Addresses(NETWORK, size=3)
    held = addresses.take("stopping")
    others = [addresses.take("a"), addresses.take("b")]
    assert held not in others
    with pytest.raises(network.Exhausted):
        addresses.take("c")
    addresses.release("a")
    assert addresses.take("c") == others[0]
    assert addresses.owners() == {"stopping", "b", "c"}


def test_a_pod_keeps_its_address() -> None:
    addresses = network.Addresses(NETWORK, size=3)
    given = addresses.take("pod")
    assert addresses.take("pod") == given  # asked again, at admission
    assert addresses.take("restarted", "10.245.16.3") == "10.245.16.3"  # after a kubelet restart
    assert addresses.take("other", "10.245.16.3") != "10.245.16.3"  # held: a fresh one
    assert "10.244.16.7" not in addresses  # kwok's range is not the kubelet's


def test_live_weaviate_members_never_share_host_ports() -> None:
    addresses = network.Addresses(NETWORK)
    taken = [addresses.take(str(n)) for n in range(network.POOL_SIZE)]
    ports = {weaviate.host_ports(address).data for address in taken}
    assert len(ports) == network.POOL_SIZE


def test_a_network_smaller_than_the_pool_is_refused() -> None:
    with pytest.raises(ValueError, match="fewer than"):
        network.Addresses(ipaddress.IPv4Network("10.245.16.0/24"))
