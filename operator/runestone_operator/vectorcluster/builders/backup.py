"""Backups of a VectorCluster: the shared claim of the filesystem backend and the CronJob that
asks for a backup on schedule.

The CronJob does not talk to the database: it sets the annotation `runestone.dev/backup` on its
VectorCluster to the scheduled time (`runestone backup`), and the operator takes the backup
through the engine, exactly as for an on-demand request. One path, one record in
`status.lastBackup`, and the job needs no database key and no route to the members."""

from __future__ import annotations

from typing import Any

from runestone_operator.core import meta, models
from runestone_operator.core import names as core_names
from runestone_operator.core.builders import pods
from runestone_operator.vectorcluster import model, names
from runestone_operator.vectorcluster.builders.cluster import Cluster

BACKUP_COMPONENT = "backup"
JOB_DEADLINE_SECONDS = 300
JOB_RESOURCES: dict[str, dict[str, str | int]] = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"memory": "128Mi"},
}


def claim_name(cluster: str, backup: model.Backup) -> str | None:
    """The claim members mount for filesystem backups (None for other backends)."""
    if backup.backend != "filesystem":
        return None
    return backup.volume_claim_name or names.backup_claim(cluster)


def backup_claim(cluster: Cluster, storage: model.Storage) -> meta.Manifest:
    """`<name>-backups` for the one member a filesystem backup allows (ReadWriteOnce, which
    every provisioner offers).

    It has no owner reference on purpose: like the members' own claims, backups outlive the
    VectorCluster (delete the claim to drop them)."""
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class_name:
        spec["storageClassName"] = storage.storage_class_name
    metadata = cluster.object_meta(names.backup_claim(cluster.name))
    del metadata["ownerReferences"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": spec,
    }


def job_labels(cluster: Cluster) -> dict[str, str]:
    """Backup job pods are not members: their component keeps them out of every selector."""
    return {**cluster.labels(), core_names.LABEL_COMPONENT: BACKUP_COMPONENT}


def job_pod_spec(cluster: str, image: str, scheduling: models.Scheduling) -> dict[str, Any]:
    """What each scheduled run executes (also what the tests run directly), on the nodes the
    cluster's `scheduling` allows."""
    return {
        **pods.placement(scheduling),
        "serviceAccountName": names.backup_job_account(cluster),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "OnFailure",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": pods.RUN_AS,
            "runAsGroup": pods.RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "backup",
                "image": image,
                "command": ["runestone"],
                "args": ["backup", "--vectorcluster", cluster],
                "env": [pods.field_env("POD_NAMESPACE", "metadata.namespace")],
                "resources": JOB_RESOURCES,
                "securityContext": pods.CONTAINER_SECURITY,
                "volumeMounts": [
                    pods.mount(
                        pods.API_ACCESS_VOLUME, core_names.SERVICE_ACCOUNT_DIR, read_only=True
                    )
                ],
            }
        ],
        "volumes": [pods.api_access_volume()],
    }


def cronjob(
    cluster: Cluster, schedule: str, image: str, scheduling: models.Scheduling
) -> meta.Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": cluster.object_meta(
            names.backup_cronjob(cluster.name),
            labels={core_names.LABEL_COMPONENT: BACKUP_COMPONENT},
        ),
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": JOB_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": job_labels(cluster)},
                "spec": {
                    "backoffLimit": 3,
                    "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
                    "ttlSecondsAfterFinished": 86400,
                    "template": {
                        "metadata": {"labels": job_labels(cluster)},
                        "spec": job_pod_spec(cluster.name, image, scheduling),
                    },
                },
            },
        },
    }
