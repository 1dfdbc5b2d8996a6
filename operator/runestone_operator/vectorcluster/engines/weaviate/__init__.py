"""Weaviate as a VectorCluster engine: members that form one cluster through Raft (the first five
vote) and memberlist gossip, API keys and RBAC from the credentials Secret, client TLS, backups
to a filesystem claim or S3 and restores from them, and the operator's questions answered by the
REST API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runestone_operator.vectorcluster import engine, model
from runestone_operator.vectorcluster.engines.weaviate import client, credentials, members, topology

FINISHED: dict[str, engine.BackupPhase] = {
    "SUCCESS": "Succeeded",
    "FAILED": "Failed",
    "CANCELED": "Failed",
}


def progress(status: Mapping[str, Any] | None) -> engine.BackupProgress | None:
    """A backup's or a restore's status as Weaviate reports it (STARTED, TRANSFERRING, ...,
    SUCCESS, FAILED, CANCELED); None stays None."""
    if status is None:
        return None
    phase = FINISHED.get(str(status.get("status", "")), "Running")
    return engine.BackupProgress(phase, str(status.get("error") or ""))


class Weaviate:
    """The `engine.Engine` for `spec.engine: weaviate`."""

    @property
    def name(self) -> str:
        return members.NAME

    @property
    def grace_seconds(self) -> int:
        return members.PRE_STOP_SECONDS + members.SHUTDOWN_SECONDS

    def image(self, spec: model.VectorClusterSpec) -> str:
        return members.image(spec)

    @property
    def default_resources(self) -> Mapping[str, Any]:
        return members.DEFAULT_RESOURCES

    def container(self, member: engine.Member) -> dict[str, Any]:
        return members.container(member)

    def init_containers(self, member: engine.Member) -> list[dict[str, Any]]:
        return members.init_containers(member)

    def client_port(self, tls: bool) -> int:
        return members.client_port(tls)

    def peer_ports(self) -> tuple[engine.Port, ...]:
        return members.PEER_PORTS

    def service_ports(self) -> tuple[engine.Port, ...]:
        return members.SERVICE_PORTS

    def probe(self, key_file: str) -> list[str]:
        return members.probe(key_file)

    def credentials(
        self, users: Sequence[engine.User], current: Mapping[str, str]
    ) -> dict[str, str]:
        return credentials.credentials(users, current)

    def membership_refusal(self, current: int, target: int) -> str | None:
        return members.membership_refusal(current, target)

    async def topology(self, endpoint: engine.Endpoint) -> engine.Topology:
        return topology.topology(await client.nodes(endpoint))

    async def backup(
        self, endpoint: engine.Endpoint, backend: str, backup_id: str
    ) -> engine.BackupProgress | None:
        return progress(await client.backup_status(endpoint, backend, backup_id))

    async def start_backup(self, endpoint: engine.Endpoint, backend: str, backup_id: str) -> None:
        await client.create_backup(endpoint, backend, backup_id)

    async def restore(
        self, endpoint: engine.Endpoint, backend: str, backup_id: str
    ) -> engine.BackupProgress | None:
        return progress(await client.restore_status(endpoint, backend, backup_id))

    async def start_restore(
        self,
        endpoint: engine.Endpoint,
        backend: str,
        backup_id: str,
        members: Mapping[str, str],
    ) -> None:
        await client.create_restore(endpoint, backend, backup_id, dict(members))


ENGINE: engine.Engine = Weaviate()
