"""The VectorCluster's typed spec and status: a distributed vector database run by one of the
engines in `runestone_operator.vectorcluster.engines` (its pod contract is in
docs/vectorcluster.md). Pure data; the CRD is generated from it."""

from __future__ import annotations

import datetime
from typing import Literal

import pydantic

from runestone_operator.core import kinds, quantities
from runestone_operator.core import models as common

KIND = kinds.VECTOR_CLUSTER.name

Engine = Literal["weaviate"]
"""The engines `runestone_operator.vectorcluster.engines` registers (a unit test keeps the two
lists equal)."""

MAX_VOTERS = 5
"""Raft voters: the first `min(replicas, 5)` members; the rest join as non-voters."""

NAME_RULE = common.cel(
    "self.metadata.name.size() <= 52 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    "a VectorCluster name must be a DNS label starting with a letter, at most 52 characters "
    "(StatefulSet pod names and revision labels are derived from it)",
)


class Storage(
    common.Model,
    json_schema_extra=common.validations(
        common.cel(
            "quantity(string(self.size)).isGreaterThan(quantity('0'))",
            "storage.size must be more than 0",
        ),
        common.cel(
            "has(self.storageClassName) == has(oldSelf.storageClassName) && "
            "(!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",
            "storage.storageClassName cannot change: the members' volumes were made in it",
        ),
    ),
):
    """The persistent volume each member gets."""

    size: common.Quantity = "10Gi"
    """Each member's volume. Raising it grows every member's volume in place, when their
    StorageClass allows volume expansion; a volume never shrinks (a size below what the volumes
    hold is reported, and they keep theirs)."""
    storage_class_name: common.ObjectName | None = None
    """The StorageClass of the members' volumes (the cluster's default when unset); fixed once
    the VectorCluster exists."""

    @pydantic.field_validator("size")
    @classmethod
    def _some_size(cls, size: str | int) -> str | int:
        if not quantities.exact(size):
            raise ValueError("storage.size must be more than 0")
        return size


class VectorApiKey(common.Model):
    """A Weaviate API key the operator issues into a Secret."""

    name: common.DnsLabel
    role: Literal["admin", "viewer"] = "viewer"


class S3Backup(common.Model):
    """An S3-compatible bucket for backups."""

    bucket: str = pydantic.Field(min_length=3, max_length=63)
    endpoint: str | None = pydantic.Field(default=None, max_length=2048)
    region: str | None = pydantic.Field(default=None, max_length=64)
    credentials_secret_ref: common.LocalObjectReference
    """A Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`."""


class Backup(common.Model):
    """Scheduled backups of every collection."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=common.validations(
            common.cel(
                "self.backend != 's3' || has(self.s3)",
                "backup.s3 is required when backup.backend is s3",
            ),
            common.cel(
                "self.backend == 's3' || !has(self.s3)",
                "backup.s3 applies only when backup.backend is s3",
            ),
            common.cel(
                "self.backend == 'filesystem' || !has(self.volumeClaimName)",
                "backup.volumeClaimName applies only when backup.backend is filesystem",
            ),
        )
    )

    schedule: str = pydantic.Field(
        min_length=6,  # "@daily"
        max_length=128,
        pattern=r"^(@(hourly|daily|weekly|monthly|yearly)|(\S+\s+){4}\S+)$",
    )
    """A cron schedule, e.g. "0 3 * * *"."""
    backend: BackupBackend = "filesystem"
    s3: S3Backup | None = None
    volume_claim_name: common.ObjectName | None = None
    """filesystem backend (one member only: Weaviate takes filesystem backups of single-node
    clusters alone): an existing claim the member keeps its backups on. Unset, the operator
    creates `<name>-backups` with the member's storage class and size, and keeps it when the
    VectorCluster is deleted; name it here in another VectorCluster to restore from it."""


BackupBackend = Literal["filesystem", "s3"]


class Restore(common.Model):
    """A backup to fill this VectorCluster with, once, as soon as all its members are ready."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=common.validations(
            common.cel(
                "self == oldSelf",
                "spec.restore cannot change once set: a restore runs once, into a new cluster "
                "(create another VectorCluster to restore another backup)",
            ),
        )
    )

    backup_id: str = pydantic.Field(min_length=1, max_length=128, pattern=r"^[a-z0-9_-]+$")
    """The backup's id, e.g. a VectorCluster's `status.lastBackup.id`."""
    backend: BackupBackend | None = None
    """Where the backup is: `spec.backup.backend` (the default; they must agree, since the members
    read backups from the location `spec.backup` names)."""
    source_cluster: common.DnsLabel | None = None
    """The VectorCluster the backup was taken of (default: this one's own name, as when it is
    re-created elsewhere). Its members map to this cluster's by ordinal, so this cluster needs at
    least as many."""


class VectorClusterSpec(common.Model):
    """A Weaviate cluster with API keys, client TLS, persistent storage and backups."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=common.validations(
            common.cel(
                "self.replicas in [1, 3, 5] || self.replicas > 5",
                "replicas must be 1, 3 or 5, or more than 5: the first 5 members are Raft voters "
                "and an even voter count cannot keep a majority",
            ),
            common.cel(
                "!has(self.replicationFactor) || self.replicationFactor <= self.replicas",
                "replicationFactor cannot exceed replicas",
            ),
            common.cel(
                "!has(self.backup) || self.backup.backend != 'filesystem' || self.replicas == 1",
                "backup.backend filesystem needs replicas 1: Weaviate refuses filesystem backups "
                "of a cluster with more than one member; use the s3 backend",
            ),
            common.cel(
                "!has(self.restore) || has(self.backup)",
                "restore needs spec.backup: the members read the backup from the location it "
                "names (its s3 bucket or filesystem claim)",
            ),
            common.cel(
                "!has(self.restore) || !has(self.restore.backend) || "
                "(has(self.backup) && self.restore.backend == self.backup.backend)",
                "restore.backend must be spec.backup.backend: the members read backups from "
                "that one location",
            ),
            common.cel(
                "!has(self.restore) || has(oldSelf.restore)",
                "spec.restore can be set only when a VectorCluster is created: a restore fills a "
                "new, empty cluster",
            ),
        )
    )

    engine: Engine = "weaviate"
    version: str = pydantic.Field(max_length=32, pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")
    """The Weaviate version, e.g. "1.39.0"."""
    replicas: int = pydantic.Field(default=3, ge=1, le=99)
    replication_factor: int | None = pydantic.Field(default=None, ge=1, le=99)
    """Default replication factor of new collections."""
    storage: Storage = pydantic.Field(
        default_factory=Storage, json_schema_extra=common.default_object(Storage)
    )
    api_keys: list[VectorApiKey] = pydantic.Field(
        default_factory=list, max_length=64, json_schema_extra=common.list_map("name")
    )
    key_rotation: common.KeyRotation = pydantic.Field(
        default_factory=common.KeyRotation,
        json_schema_extra=common.default_object(common.KeyRotation),
    )
    """How key rotation behaves. Rotate a key by setting the annotation
    `rotate-key.runestone.dev/<key name>` on the VectorCluster to a new value (any token, e.g. a
    timestamp); the operator issues a new key, keeps the old one valid for `gracePeriod`, and
    restarts the members one at a time to pick up each change (docs/vectorcluster.md)."""
    tls: common.Tls = pydantic.Field(
        default_factory=common.Tls, json_schema_extra=common.default_object(common.Tls)
    )
    """TLS for client traffic; inter-node ports are fenced by a NetworkPolicy instead."""
    backup: Backup | None = None
    restore: Restore | None = None
    """Fill the new cluster from a backup (once, when its members are first ready); progress and
    result in `status.restore` and the `Restored` condition. Set only at creation."""
    image: str | None = pydantic.Field(default=None, min_length=1, max_length=1024)
    resources: common.Resources | None = None
    sidecar: common.Sidecar = pydantic.Field(
        default_factory=common.Sidecar, json_schema_extra=common.default_object(common.Sidecar)
    )
    scheduling: common.Scheduling = pydantic.Field(
        default_factory=common.Scheduling,
        json_schema_extra=common.default_object(common.Scheduling),
    )
    """Where the members and the backup jobs run."""


class Member(common.Model):
    """One Weaviate node as the operator last saw it."""

    pod: str
    ready: bool
    shards: int | None = None


class LastBackup(common.Model):
    """The most recent backup run."""

    id: str
    time: datetime.datetime
    result: Literal["Succeeded", "Failed"]


RestorePhase = Literal["Pending", "Running", "Succeeded", "Failed"]


class RestoreStatus(common.Model):
    """How the restore `spec.restore` asks for went. `Succeeded` and `Failed` are final: the
    restore never runs again."""

    backup_id: str
    phase: RestorePhase
    """`Pending` until the members are ready and the backup is found, `Running` once the engine
    restores it, then `Succeeded` or `Failed`."""
    started_at: datetime.datetime | None = None
    completed_at: datetime.datetime | None = None
    message: str | None = pydantic.Field(default=None, max_length=1024)
    """What is awaited, or why it failed."""


class VectorClusterStatus(common.Status):
    """What the operator observed about the cluster."""

    ready_replicas: int | None = None
    members: list[Member] = pydantic.Field(
        default_factory=list, max_length=99, json_schema_extra=common.list_map("pod")
    )
    last_backup: LastBackup | None = None
    restore: RestoreStatus | None = None
    api_keys: common.ApiKeyStatuses
    gateway_keys: list[common.GatewayKeyStatus] = pydantic.Field(
        default_factory=list, max_length=256, json_schema_extra=common.list_map("name")
    )
    """Keys issued to the Gateways whose `spec.vectorStores` references this cluster (admins:
    a gateway writes files and chunks); each goes when its Gateway stops referencing the
    cluster."""
