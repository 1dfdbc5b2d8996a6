"""What a VectorCluster's conditions say about its members' volumes: Progressing while they grow
(and, for a filesystem grown only when mounted, that its member must restart), Degraded when
their StorageClass cannot grow them or the size is below what they hold; the cluster stays Ready
throughout, its members serving."""

from __future__ import annotations

from runestone_operator.core import conditions
from runestone_operator.vectorcluster import model
from runestone_operator.vectorcluster.steps import status, storage

SPEC = model.VectorClusterSpec.model_validate(
    {"version": "1.39.3", "replicas": 3, "storage": {"size": "20Gi"}}
)
MEMBERS = {"metadata": {"name": "docs"}, "spec": {"replicas": 3}}


def _conditions(volumes: storage.Volumes) -> dict[str, tuple[str, str, str]]:
    findings = status.Findings(statefulset=MEMBERS, volumes=volumes)
    observed = status.observations(SPEC, 3, 3, findings)
    return {o.type: (o.status, o.reason, o.message) for o in observed}


def test_growing_volumes_are_progress_naming_them() -> None:
    found = _conditions(storage.Volumes("20Gi", growing=("data-docs-0", "data-docs-2")))
    state, reason, message = found["Progressing"]
    assert (state, reason) == ("True", conditions.Reason.VOLUMES_GROWING)
    assert "data-docs-0, data-docs-2 growing to 20Gi" in message
    assert "restart" not in message
    assert found["Ready"][:2] == ("True", conditions.Reason.AVAILABLE)
    assert found["Degraded"][:2] == ("False", conditions.Reason.RECONCILED)


def test_a_filesystem_grown_only_when_mounted_says_its_member_must_restart() -> None:
    volumes = storage.Volumes("20Gi", growing=("data-docs-1",), remount=("data-docs-1",))
    message = _conditions(volumes)["Progressing"][2]
    assert "data-docs-1 grown, the filesystem waiting for its member to restart" in message


def test_volumes_that_cannot_grow_or_shrink_are_degraded_naming_them() -> None:
    found = _conditions(storage.Volumes("20Gi", refused=("data-docs-0",)))
    state, reason, message = found["Degraded"]
    assert (state, reason) == ("True", conditions.Reason.VOLUME_EXPANSION_REFUSED)
    assert "data-docs-0 cannot grow to 20Gi" in message
    assert "allowVolumeExpansion" in message

    found = _conditions(storage.Volumes("20Gi", larger=("data-docs-2",)))
    state, reason, message = found["Degraded"]
    assert (state, reason) == ("True", conditions.Reason.VOLUME_CANNOT_SHRINK)
    assert "data-docs-2 hold more than 20Gi" in message
    assert found["Ready"][:2] == ("True", conditions.Reason.AVAILABLE)
