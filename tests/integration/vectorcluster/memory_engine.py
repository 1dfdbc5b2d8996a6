"""A VectorCluster engine for the tests, to show the engine seam: everything the kind asks of an
engine, answered from a table the test controls instead of a running database.

Its members run nothing (kwok marks their pods running); the test sets their readiness gate as
a sidecar would. It keeps key hashes rather than keys, the other way an engine may keep
credentials, and records every call a member would have answered."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runestone_operator.core.builders import pods
from runestone_operator.vectorcluster import engine, model, names

NAME = "memory"
CLIENT_PORT = 9000
TLS_PORT = 9443
PEER_PORT = 9100
METRICS_PORT = 9200
MIN_MEMBERS = 2
"""Membership refuses to shrink below this (as Raft refuses to lose voters)."""


@dataclass
class Call:
    what: str
    endpoint: engine.Endpoint
    args: tuple[str, ...] = ()


@dataclass
class MemoryEngine:
    """An `engine.Engine`; `shards`, `backups` and `restores` are what its members would say."""

    members: list[str] = field(default_factory=list)
    shards: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    backups: dict[str, engine.BackupProgress] = field(default_factory=dict)
    refuse_backups: bool = False
    restores: dict[str, engine.BackupProgress] = field(default_factory=dict)
    """What a member says of each restore started into its cluster, by backup id."""
    refuse_restores: bool = False
    calls: list[Call] = field(default_factory=list)

    @property
    def name(self) -> str:
        return NAME

    @property
    def grace_seconds(self) -> int:
        return 1

    def image(self, spec: model.VectorClusterSpec) -> str:
        return spec.image or f"example.invalid/memory-engine:{spec.version}"

    @property
    def default_resources(self) -> Mapping[str, Any]:
        return {"limits": {"memory": "64Mi"}}

    def container(self, member: engine.Member) -> dict[str, Any]:
        mounts = [
            pods.mount(names.DATA_VOLUME, "/data", read_only=False),
            pods.mount(names.TMP_VOLUME, "/tmp", read_only=False),
        ]
        if member.tls:
            mounts.append(pods.mount(names.TLS_VOLUME, "/tls", read_only=True))
        return {
            "name": "db",
            "image": self.image(member.spec),
            "env": [
                {
                    "name": "KEYS",
                    "valueFrom": {
                        "secretKeyRef": {"name": member.credentials_secret, "key": "KEYS"}
                    },
                }
            ],
            "ports": [
                {"name": "client", "containerPort": self.client_port(member.tls)},
                {"name": "peer", "containerPort": PEER_PORT},
                {"name": "metrics", "containerPort": METRICS_PORT},
            ],
            "resources": dict(member.resources),
            "securityContext": pods.CONTAINER_SECURITY,
            "volumeMounts": mounts,
        }

    def init_containers(self, member: engine.Member) -> list[dict[str, Any]]:
        return []  # the member's StatefulSet then has no initContainers field

    def client_port(self, tls: bool) -> int:
        return TLS_PORT if tls else CLIENT_PORT

    def peer_ports(self) -> tuple[engine.Port, ...]:
        return (engine.Port("peer", PEER_PORT),)

    def service_ports(self) -> tuple[engine.Port, ...]:
        return (engine.Port("metrics", METRICS_PORT, app_protocol="http"),)

    def probe(self, key_file: str) -> list[str]:
        url = f"http://127.0.0.1:{CLIENT_PORT}"
        return ["--engine", NAME, "--url", url, "--api-key-file", key_file]

    def credentials(
        self, users: Sequence[engine.User], current: Mapping[str, str]
    ) -> dict[str, str]:
        # Hashes only: a replaced key's hash is all it takes to keep accepting it.
        entries = []
        for user in users:
            role = "admin" if user.admin else "viewer"
            entries.append(f"{user.name}:{role}:{hashlib.sha256(user.key.encode()).hexdigest()}")
            entries += [f"{user.name}:{role}:{digest}" for digest in user.previous]
        return {"KEYS": ",".join(entries)}

    def membership_refusal(self, current: int, target: int) -> str | None:
        if target >= MIN_MEMBERS:
            return None
        return f"the memory engine keeps at least {MIN_MEMBERS} members (asked for {target})"

    async def topology(self, endpoint: engine.Endpoint) -> engine.Topology:
        self.calls.append(Call("topology", endpoint))
        shards = tuple(
            engine.Shard(collection, shard, nodes)
            for (collection, shard), nodes in sorted(self.shards.items())
        )
        return engine.Topology(tuple(self.members), shards)

    async def backup(
        self, endpoint: engine.Endpoint, backend: str, backup_id: str
    ) -> engine.BackupProgress | None:
        self.calls.append(Call("backup", endpoint, (backend, backup_id)))
        return self.backups.get(backup_id)

    async def start_backup(self, endpoint: engine.Endpoint, backend: str, backup_id: str) -> None:
        self.calls.append(Call("start_backup", endpoint, (backend, backup_id)))
        if self.refuse_backups:
            raise engine.EngineError(422, "nothing to back up", refused=True)
        self.backups[backup_id] = engine.BackupProgress("Running")

    async def restore(
        self, endpoint: engine.Endpoint, backend: str, backup_id: str
    ) -> engine.BackupProgress | None:
        self.calls.append(Call("restore", endpoint, (backend, backup_id)))
        return self.restores.get(backup_id)

    async def start_restore(
        self, endpoint: engine.Endpoint, backend: str, backup_id: str, members: Mapping[str, str]
    ) -> None:
        mapping = ",".join(f"{old}={new}" for old, new in sorted(members.items()))
        self.calls.append(Call("start_restore", endpoint, (backend, backup_id, mapping)))
        if backup_id not in self.backups:
            raise engine.BackupNotFound(f"no backup {backup_id}")
        if self.refuse_restores:
            raise engine.EngineError(422, "collection Doc exists already", refused=True)
        self.restores[backup_id] = engine.BackupProgress("Running")
