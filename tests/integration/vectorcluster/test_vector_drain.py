"""A clean stop drains in the middle of a rolling restart. The session's operator gets SIGTERM
while it reconciles a VectorCluster whose members restart one at a time, with the first member
deleted and not yet back: the reconcile it was running finishes (its log names it, the exit
status is 0), and the member being restarted comes back whole, on the new template with its
gate True, while no operator runs and no other member is touched. The next operator carries the
roll on from there: each member restarted exactly once, highest ordinal first, every member on
the new revision, the cluster Ready and no longer Progressing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from devcluster import operator_process
from devcluster.kube import eventually
from integration.vectorcluster import vectorclusters
from integration.vectorcluster.vectorclusters import Clusters
from runestone_operator.vectorcluster import names

NAME = "drain"
MEMBERS = [f"{NAME}-2", f"{NAME}-1", f"{NAME}-0"]
"""In the order a roll restarts them."""
IN_FLIGHT = ("runestone_operator_workqueue_in_flight", ())


def _update_revision(clusters: Clusters) -> str:
    apps = client.AppsV1Api(clusters.api)
    statefulset = apps.read_namespaced_stateful_set(NAME, clusters.namespace)
    assert statefulset.status.observed_generation == statefulset.metadata.generation
    return str(statefulset.status.update_revision)


def _members(clusters: Clusters) -> dict[str, Any]:
    return {pod.metadata.name: pod for pod in clusters.pods(NAME)}


def _whole(clusters: Clusters, member: str, revision: str) -> bool:
    """The member runs the `revision` template, not deleting, with its readiness gate True."""
    pod = _members(clusters).get(member)
    assert pod is not None, f"{member} not created yet"
    assert pod.metadata.deletion_timestamp is None, f"{member} is being deleted"
    assert pod.metadata.labels["controller-revision-hash"] == revision, f"{member} is outdated"
    assert clusters.gate(member) == "True", f"{member}'s gate is not True"
    return True


def _restarted(clusters: Clusters) -> list[str]:
    """The members named by MemberRestarted Events, oldest first."""
    found = clusters.core.list_namespaced_event(
        clusters.namespace, field_selector=f"involvedObject.name={NAME},reason=MemberRestarted"
    ).items
    ordered = sorted(found, key=lambda e: e.first_timestamp or e.event_time or e.metadata.name)
    return [str(e.message).split()[2] for e in ordered for _ in range(e.count or 1)]


@pytest.mark.timeout(1500)
def test_sigterm_during_a_rolling_restart_drains_and_the_next_operator_carries_on(
    clusters: Clusters, operator: operator_process.OperatorProcess
) -> None:
    clusters.create(NAME, vectorclusters.spec())
    clusters.wait_condition(NAME, "Ready", "True", timeout=400)
    first = {name: pod.metadata.uid for name, pod in _members(clusters).items()}
    assert sorted(first) == sorted(MEMBERS)

    clusters.annotate(NAME, names.RESTART_REQUEST, "drain-test")
    eventually(
        lambda: (
            _members(clusters).get(MEMBERS[0]) is None
            or _members(clusters)[MEMBERS[0]].metadata.uid != first[MEMBERS[0]]
            or _members(clusters)[MEMBERS[0]].metadata.deletion_timestamp is not None
        ),
        timeout=120,
        interval=0.2,
        what=f"the roll to restart {MEMBERS[0]}",
    )
    revision = _update_revision(clusters)

    # While the member restarts, the operator reconciles the VectorCluster every few seconds
    # (and at each of the member's pod events): stop it during one of those reconciles.
    def reconciling() -> bool:
        return operator.metrics()[IN_FLIGHT] >= 1

    try:
        eventually(reconciling, timeout=120, interval=0.02, what="a reconcile in flight")
        signalled = time.monotonic()
        status = operator.stop()
        stopped = time.monotonic() - signalled
        log = operator.last_run_log()
        print(f"SIGTERM mid-reconcile: the operator drained and exited in {stopped:.2f}s")
        assert status == 0, log[-3000:]  # not DRAIN_INCOMPLETE: nothing was cut off
        key = f"VectorCluster {clusters.namespace}/{NAME}"
        drained = [line for line in log.splitlines() if line.startswith("drained: ")]
        print(*(line for line in log.splitlines() if line.startswith("drain")), sep="\n")
        assert drained, log[-3000:]
        assert key in drained[-1], log[-3000:]
        assert "drain incomplete" not in log
        assert "Traceback" not in log
        # What the drained reconcile wrote says the roll is under way.
        progressing = clusters.condition(NAME, "Progressing") or {}
        assert (progressing.get("status"), progressing.get("reason")) == ("True", "RollingOut")

        # No operator runs: the member being restarted comes back whole by itself (the
        # StatefulSet controller and its sidecar), and no other member goes.
        eventually(
            lambda: _whole(clusters, MEMBERS[0], revision),
            timeout=300,
            interval=1,
            what=f"{MEMBERS[0]} back on the new template, gate True",
        )
        time.sleep(3 * operator_process.RESYNC_SECONDS)
        now = _members(clusters)
        for member in MEMBERS[1:]:
            assert now[member].metadata.uid == first[member], f"{member} was restarted"
            assert now[member].metadata.deletion_timestamp is None, f"{member} is being deleted"
        assert _restarted(clusters) == MEMBERS[:1]
    finally:
        if not operator.alive():
            operator.start()

    # The next operator carries the roll on, one member at a time.
    clusters.wait_condition(NAME, "Progressing", "False", timeout=600)
    clusters.wait_condition(NAME, "Ready", "True", timeout=300)
    for member in MEMBERS:
        assert _whole(clusters, member, revision)
    last = _members(clusters)
    assert all(last[member].metadata.uid != first[member] for member in MEMBERS)
    assert _restarted(clusters) == MEMBERS
