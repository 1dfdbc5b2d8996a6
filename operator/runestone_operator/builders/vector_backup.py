"""Backups of a VectorCluster: the shared claim of the filesystem backend and the CronJob that
asks for a backup on schedule.

The CronJob does not talk to Weaviate: it sets the annotation `runestone.dev/backup` on its
VectorCluster to the scheduled time (`runestone backup`), and the operator takes the backup
through Weaviate's REST API, exactly as for an on-demand request. One path, one record in
`status.lastBackup`, and the job needs no Weaviate key and no route to the members."""

from __future__ import annotations

from typing import Any

from runestone_operator import names, vectornames
from runestone_operator.builders import deployment, meta, vector_meta
from runestone_operator.models import vectorcluster

BACKUP_COMPONENT = "backup"
JOB_DEADLINE_SECONDS = 300
JOB_RESOURCES: dict[str, dict[str, str | int]] = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"memory": "128Mi"},
}


def claim_name(owner: meta.Owner, backup: vectorcluster.Backup) -> str | None:
    """The claim members mount for filesystem backups (None for other backends)."""
    if backup.backend != "filesystem":
        return None
    return backup.volume_claim_name or vectornames.backup_claim(owner.name)


def backup_claim(owner: meta.Owner, storage: vectorcluster.Storage) -> meta.Manifest:
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
    metadata = vector_meta.object_meta(owner, vectornames.backup_claim(owner.name))
    del metadata["ownerReferences"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": spec,
    }


def job_labels(cluster: str) -> dict[str, str]:
    """Backup job pods are not members: their component keeps them out of every selector."""
    return {**vectornames.labels(cluster), names.LABEL_COMPONENT: BACKUP_COMPONENT}


def job_pod_spec(owner: meta.Owner, image: str) -> dict[str, Any]:
    """What each scheduled run executes (also what the tests run directly)."""
    return {
        "serviceAccountName": vectornames.backup_job_account(owner.name),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "OnFailure",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": deployment.RUN_AS,
            "runAsGroup": deployment.RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "backup",
                "image": image,
                "command": ["runestone"],
                "args": ["backup", "--vectorcluster", owner.name],
                "env": [
                    {
                        "name": "POD_NAMESPACE",
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                    }
                ],
                "resources": JOB_RESOURCES,
                "securityContext": deployment.CONTAINER_SECURITY,
                "volumeMounts": [
                    {
                        "name": "kube-api-access",
                        "mountPath": names.SERVICE_ACCOUNT_DIR,
                        "readOnly": True,
                    }
                ],
            }
        ],
        "volumes": [deployment._api_access_volume()],
    }


def cronjob(owner: meta.Owner, schedule: str, image: str) -> meta.Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": vector_meta.object_meta(
            owner,
            vectornames.backup_cronjob(owner.name),
            labels={names.LABEL_COMPONENT: BACKUP_COMPONENT},
        ),
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": JOB_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": job_labels(owner.name)},
                "spec": {
                    "backoffLimit": 3,
                    "activeDeadlineSeconds": JOB_DEADLINE_SECONDS,
                    "ttlSecondsAfterFinished": 86400,
                    "template": {
                        "metadata": {"labels": job_labels(owner.name)},
                        "spec": job_pod_spec(owner, image),
                    },
                },
            },
        },
    }
