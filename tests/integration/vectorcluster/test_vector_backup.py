"""Backups to the filesystem backend: one on demand through the annotation `runestone.dev/backup`,
one from the backup CronJob's job, each reported in `status.lastBackup`; the later one restores
into a fresh VectorCluster through `spec.restore`, with the same object count."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster import kube, operator_process
from devcluster import weaviate as wv
from devcluster.kube import container_log, eventually
from integration.vectorcluster import vectorclusters
from integration.vectorcluster.vectorclusters import COLLECTION, Clusters

NAME, FRESH = "src", "dst"
BACKUP = {"schedule": "0 3 * * *", "backend": "filesystem"}
FIRST, MORE = 30, 20


def _last_backup(clusters: Clusters, name: str, other_than: str | None = None) -> dict[str, Any]:
    """status.lastBackup once a backup other than `other_than` has finished."""

    def finished() -> dict[str, Any]:
        last: dict[str, Any] = clusters.get(name).get("status", {}).get("lastBackup") or {}
        return last if last.get("id") not in (None, other_than) else {}

    try:
        return eventually(finished, timeout=180, interval=1, what=f"a new backup of {name}")
    except AssertionError:
        print("status:", clusters.get(name).get("status"))
        raise


def _weaviate_status(member: wv.Client, path: str) -> str:
    return str(member.ok("GET", path).get("status"))


@pytest.mark.timeout(900)
def test_backups_on_demand_and_on_schedule_restore_into_a_fresh_cluster(
    clusters: Clusters, kube_api: client.ApiClient, kube_cluster: kube.Cluster
) -> None:
    # Asking for a backup of a VectorCluster that does not exist says so.
    missing = subprocess.run(
        [str(operator_process.RUNESTONE), "backup", "--vectorcluster", NAME],
        env={"KUBECONFIG": str(kube_cluster.kubeconfig), "POD_NAMESPACE": clusters.namespace},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1
    assert f"VectorCluster {clusters.namespace}/{NAME} does not exist" in missing.stderr

    # Weaviate takes filesystem backups of one-member clusters only; the API server says so.
    with pytest.raises(ApiException) as refused:
        clusters.create("wide", vectorclusters.spec(backup=BACKUP))
    assert refused.value.status == 422
    assert "backup.backend filesystem needs replicas 1" in str(refused.value.body)

    clusters.create(NAME, vectorclusters.spec(replicas=1, backup=BACKUP))
    clusters.wait_condition(NAME, "Ready", "True", timeout=300)
    cron = client.BatchV1Api(kube_api).read_namespaced_cron_job(
        f"{NAME}-backup", clusters.namespace
    )
    assert cron.spec.schedule == "0 3 * * *"
    claim = clusters.core.read_namespaced_persistent_volume_claim(
        f"{NAME}-backups", clusters.namespace
    )
    assert not claim.metadata.owner_references  # backups outlive their VectorCluster

    # Nothing to back up yet: Weaviate refuses, and the request is recorded as failed (not
    # retried every few seconds until the next one).
    clusters.annotate(NAME, "runestone.dev/backup", "empty")
    empty = _last_backup(clusters, NAME)
    assert empty["result"] == "Failed"
    failed = clusters.core.list_namespaced_event(
        clusters.namespace, field_selector=f"involvedObject.name={NAME},reason=BackupFailed"
    ).items
    print("refused backup:", failed[0].message)
    assert "nothing to do" in failed[0].message
    assert failed[0].type == "Warning"

    key = clusters.key(NAME, "gateway")
    source = clusters.member(NAME, f"{NAME}-0", key)
    source.create_collection(COLLECTION, replication_factor=1)
    source.insert(COLLECTION, vectorclusters.objects(FIRST))

    # On demand: a new value of the annotation is one backup.
    clusters.annotate(NAME, "runestone.dev/backup", "on-demand-1")
    first = _last_backup(clusters, NAME, other_than=empty["id"])
    print("on-demand backup:", first)
    assert first["result"] == "Succeeded"
    assert _weaviate_status(source, f"/v1/backups/filesystem/{first['id']}") == "SUCCESS"

    # On schedule: what the CronJob runs asks for the next one (the job's pod, run once here,
    # because kwok completes Job pods without waiting for their processes).
    source.insert(COLLECTION, vectorclusters.objects(MORE, start=FIRST))
    job = client.ApiClient().sanitize_for_serialization(cron.spec.job_template.spec.template.spec)
    clusters.run_pod(f"{NAME}-backup-now", job)
    second = _last_backup(clusters, NAME, other_than=first["id"])
    print("scheduled backup:", second)
    assert second["result"] == "Succeeded"
    token = clusters.get(NAME)["metadata"]["annotations"]["runestone.dev/backup"]
    assert token != "on-demand-1"
    log = container_log(clusters.kubelet, clusters.namespace, f"{NAME}-backup-now", "backup")
    assert f"requested backup {token} of VectorCluster" in log.read_text()
    assert _weaviate_status(source, f"/v1/backups/filesystem/{second['id']}") == "SUCCESS"
    backup_events = clusters.core.list_namespaced_event(
        clusters.namespace, field_selector=f"involvedObject.name={NAME},reason=BackupSucceeded"
    ).items
    assert len(backup_events) == 2

    # A fresh cluster on the same backup volume restores the later backup, node for node.
    clusters.create(
        FRESH,
        vectorclusters.spec(
            replicas=1,
            backup={**BACKUP, "volumeClaimName": claim.metadata.name},
            restore={"backupId": second["id"], "sourceCluster": NAME},
        ),
    )
    clusters.wait_condition(FRESH, "Restored", "True", timeout=600)
    assert clusters.get(FRESH)["status"]["restore"]["phase"] == "Succeeded"
    fresh = clusters.member(FRESH, f"{FRESH}-0", clusters.key(FRESH, "gateway"))
    assert _weaviate_status(fresh, f"/v1/backups/filesystem/{second['id']}/restore") == "SUCCESS"
    assert fresh.count(COLLECTION) == FIRST + MORE
    assert source.count(COLLECTION) == FIRST + MORE
