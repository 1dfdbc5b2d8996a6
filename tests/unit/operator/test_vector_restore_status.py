"""What a VectorCluster's conditions say about the restore `spec.restore` declares: Restored,
with Progressing while it waits or runs and Degraded when the backup is missing or the restore
failed; a finished restore leaves the others to the members."""

from __future__ import annotations

import datetime

import pytest

from runestone_operator.core import conditions
from runestone_operator.vectorcluster import model
from runestone_operator.vectorcluster.engines import weaviate
from runestone_operator.vectorcluster.steps import restore, status

SPEC = model.VectorClusterSpec.model_validate(
    {
        "version": "1.39.3",
        "replicas": 3,
        "backup": {
            "schedule": "@daily",
            "backend": "s3",
            "s3": {"bucket": "backups", "credentialsSecretRef": {"name": "s3"}},
        },
        "restore": {"backupId": "docs-nightly"},
    }
)
MEMBERS = {"metadata": {"name": "docs"}, "spec": {"replicas": 3}}
START = datetime.datetime(2026, 5, 1, 3, 0, tzinfo=datetime.UTC)


def _state(phase: model.RestorePhase, reason: str, problem: bool = False) -> restore.RestoreState:
    record = model.RestoreStatus(
        backup_id="docs-nightly", phase=phase, started_at=START, message=f"{reason} here"
    )
    return restore.RestoreState(record, reason, problem=problem)


def _conditions(state: restore.RestoreState) -> dict[str, tuple[str, str]]:
    findings = status.Findings(statefulset=MEMBERS, restore=state)
    observed = status.observations(SPEC, 3, 3, findings)
    return {o.type: (o.status, o.reason) for o in observed}


@pytest.mark.parametrize(
    ("phase", "reason"),
    [
        ("Pending", conditions.Reason.RESTORE_PENDING),
        ("Running", conditions.Reason.RESTORE_IN_PROGRESS),
    ],
)
def test_waiting_and_running_restores_are_progress(phase: model.RestorePhase, reason: str) -> None:
    state = _state(phase, reason)
    assert state.busy
    found = _conditions(state)
    assert found["Restored"] == ("False", reason)
    assert found["Progressing"] == ("True", reason)
    assert found["Degraded"] == ("False", conditions.Reason.RECONCILED)
    assert found["Ready"] == ("True", conditions.Reason.AVAILABLE)


@pytest.mark.parametrize(
    ("phase", "reason"),
    [
        ("Pending", conditions.Reason.BACKUP_NOT_FOUND),
        ("Failed", conditions.Reason.RESTORE_FAILED),
    ],
)
def test_a_missing_backup_and_a_failed_restore_are_degraded(
    phase: model.RestorePhase, reason: str
) -> None:
    found = _conditions(_state(phase, reason, problem=True))
    assert found["Restored"] == ("False", reason)
    assert found["Degraded"] == ("True", reason)
    assert found["Progressing"][0] == "False"


def test_a_finished_restore_is_restored_and_nothing_else() -> None:
    state = _state("Succeeded", conditions.Reason.RESTORE_SUCCEEDED)
    assert not state.busy
    found = _conditions(state)
    assert found["Restored"] == ("True", conditions.Reason.RESTORE_SUCCEEDED)
    assert found["Progressing"][0] == "False"
    assert found["Degraded"][0] == "False"


def test_without_a_restore_there_is_no_restored_condition() -> None:
    observed = status.observations(SPEC, 3, 3, status.Findings(statefulset=MEMBERS))
    assert conditions.RESTORED not in {o.type for o in observed}


def test_weaviate_restore_states_map_to_phases() -> None:
    assert weaviate.progress(None) is None
    for running in ("STARTED", "TRANSFERRING", "TRANSFERRED", "FINALIZING", ""):
        found = weaviate.progress({"status": running})
        assert found is not None
        assert found.phase == "Running"
    succeeded = weaviate.progress({"status": "SUCCESS"})
    assert succeeded is not None
    assert succeeded.phase == "Succeeded"
    failed = weaviate.progress({"status": "FAILED", "error": "class Article already exists"})
    assert failed is not None
    assert (failed.phase, failed.detail) == ("Failed", "class Article already exists")
