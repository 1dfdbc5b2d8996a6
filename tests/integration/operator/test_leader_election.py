"""Leader election on a real Lease, with short timings: one holder at a time; a released Lease is
taken at the next retry; a Lease whose holder died is taken once it has stayed unchanged for its
duration, not before; a leader that cannot renew (its RBAC revoked, so the API server refuses)
loses leadership within the renew deadline, before anyone else can take over; and a leader whose
Lease was taken by another process notices at its next renewal.

The electors run in this process (as the operator runs them), each with its own API client; the
one whose permission is revoked authenticates as the operator's ServiceAccount."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from devcluster import operator_process
from devcluster.kube import Cluster
from integration.operator import objects
from runestone_operator.core import election, operator_rbac

TIMING = election.Timing(lease_duration=4.0, renew_deadline=3.0, retry_period=0.5)
HANDOVER = TIMING.retry_period * election.JITTER + 1.0
"""A released Lease is taken within one retry, plus a request's time under load."""


def _lease(api: client.ApiClient, namespace: str, name: str) -> client.V1Lease:
    return client.CoordinationV1Api(api).read_namespaced_lease(name, namespace)


async def _timed(work: asyncio.Task[None], within: float) -> float:
    """Seconds until `work` finished (it must, within `within` seconds)."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        await work
    return time.monotonic() - started


async def _stays_pending(work: asyncio.Task[None], seconds: float) -> None:
    await asyncio.sleep(seconds)
    assert not work.done(), "a second process took a Lease that was held"


async def _cancel(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_one_holder_release_hands_over_and_a_dead_holder_expires(
    kube_cluster: Cluster, namespace: str
) -> None:
    name = f"lease-{uuid.uuid4().hex[:6]}"
    async with (
        objects.operator_client(kube_cluster.kubeconfig) as one,
        objects.operator_client(kube_cluster.kubeconfig) as two,
    ):
        a = election.Elector(one, election.Lock(namespace, name, "a"), TIMING)
        b = election.Elector(two, election.Lock(namespace, name, "b"), TIMING)
        await asyncio.wait_for(a.acquire(), 10)
        assert a.leading
        holding = asyncio.create_task(a.hold())
        waiting = asyncio.create_task(b.acquire())
        try:
            # Renewed every retry period: never free for the other, even after two durations.
            await _stays_pending(waiting, 2 * TIMING.lease_duration)
            assert _lease(kube_cluster.api, namespace, name).spec.holder_identity == "a"

            # Released on a clean stop: taken at the other's next retry.
            await _cancel(holding)
            assert await a.release()
            handover = await _timed(waiting, 10)
            assert handover < HANDOVER, handover
            lease = _lease(kube_cluster.api, namespace, name)
            assert (lease.spec.holder_identity, lease.spec.lease_transitions) == ("b", 1)
            assert lease.spec.lease_duration_seconds == 4

            # b dies without releasing: a takes over once b's record has stayed unchanged for
            # the lease duration, as a's own clock measures it from b's last renewal.
            waiting = asyncio.create_task(a.acquire())
            await asyncio.sleep(1)
            assert not waiting.done()
            taken = 1 + await _timed(waiting, 3 * TIMING.lease_duration)
            print(f"released lease taken after {handover:.2f}s; expired lease after {taken:.2f}s")
            assert TIMING.lease_duration - 1 <= taken <= TIMING.lease_duration + 2 * HANDOVER
            lease = _lease(kube_cluster.api, namespace, name)
            assert (lease.spec.holder_identity, lease.spec.lease_transitions) == ("a", 2)
        finally:
            await _cancel(holding, waiting)


@pytest.fixture
def revocable(kube_cluster: Cluster, tmp_path: Path) -> Iterator[operator_process.Identity]:
    """The operator's ServiceAccount and RBAC, with a kubeconfig of its token in tmp_path."""
    identity = operator_process.Identity(kube_cluster.api, uuid.uuid4().hex[:6])
    token = identity.create()
    operator_process.token_kubeconfig(kube_cluster.api, token, tmp_path / "kubeconfig")
    try:
        yield identity
    finally:
        identity.delete()


async def test_a_leader_the_api_server_refuses_stops_within_the_renew_deadline(
    kube_cluster: Cluster, revocable: operator_process.Identity, tmp_path: Path
) -> None:
    namespace, name = revocable.namespace, "runestone-operator"
    async with (
        objects.operator_client(tmp_path / "kubeconfig") as token_client,
        objects.operator_client(kube_cluster.kubeconfig) as admin_client,
    ):
        a = election.Elector(token_client, election.Lock(namespace, name, "a"), TIMING)
        b = election.Elector(admin_client, election.Lock(namespace, name, "b"), TIMING)
        await asyncio.wait_for(a.acquire(), 10)
        holding = asyncio.create_task(a.hold())
        waiting = asyncio.create_task(b.acquire())
        try:
            await asyncio.sleep(2 * TIMING.retry_period)
            # The operator's Lease permission is revoked: every renewal is now refused (403).
            client.RbacAuthorizationV1Api(kube_cluster.api).delete_namespaced_role_binding(
                operator_rbac.ELECTION_ROLE_NAME, namespace
            )
            revoked = time.monotonic()
            with pytest.raises(election.Lost, match="no renewal within 3s"):
                async with asyncio.timeout(TIMING.lease_duration * 2):
                    await holding
            lost = time.monotonic() - revoked
            assert not a.leading
            assert not waiting.done(), "the other took over before the leader had stopped"
            taken = await _timed(waiting, 3 * TIMING.lease_duration) + lost
            print(
                f"refused leader stopped after {lost:.2f}s; the other took over after {taken:.2f}s"
            )
            assert lost <= TIMING.renew_deadline + HANDOVER
            assert taken > lost
            assert _lease(kube_cluster.api, namespace, name).spec.holder_identity == "b"
        finally:
            await _cancel(holding, waiting)


async def test_a_leader_whose_lease_was_taken_stops_at_its_next_renewal(
    kube_cluster: Cluster, namespace: str
) -> None:
    name = "taken"
    async with objects.operator_client(kube_cluster.kubeconfig) as connection:
        a = election.Elector(connection, election.Lock(namespace, name, "a"), TIMING)
        await asyncio.wait_for(a.acquire(), 10)
        holding = asyncio.create_task(a.hold())
        try:
            leases = client.CoordinationV1Api(kube_cluster.api)
            lease = leases.read_namespaced_lease(name, namespace)
            lease.spec.holder_identity = "intruder"
            leases.replace_namespaced_lease(name, namespace, lease)
            with pytest.raises(election.Lost, match="another process holds the lease"):
                async with asyncio.timeout(TIMING.renew_deadline):
                    await holding
            assert not await a.release()  # nothing to release: it holds nothing
            assert leases.read_namespaced_lease(name, namespace).spec.holder_identity == "intruder"
        finally:
            await _cancel(holding)
