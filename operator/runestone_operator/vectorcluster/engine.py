"""What the VectorCluster kind asks of a database engine, and the values that cross between them.

The kind owns everything engine-neutral: the StatefulSet (stable names, `OnDelete` updates rolled
one member at a time on real readiness, claims, the health sidecar and its readiness gate), the
Services, the NetworkPolicy, the PodDisruptionBudget, keys, TLS, the backup CronJob and the
status. An engine says how its members run (container, ports, settings, who may connect), which
scale-downs its own membership forbids, and answers what only a running member can tell (where
shards live, how a backup or a restore goes). Later calls join here the same way: repairing a
member's index before its gate goes True would be a method a member answers.

Engines live one per folder under `engines/` and are chosen by `spec.engine` through
`engines.get`. A second engine is a new folder that implements `Engine`; nothing else in the kind
changes. The sidecar's member probe is chosen the same way, by `--engine` (`probe`)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from runestone_operator.vectorcluster import model


@dataclass(frozen=True)
class Port:
    """A port members listen on."""

    name: str
    port: int
    protocol: str = "TCP"
    app_protocol: str | None = None
    """What a Service port says it speaks (`appProtocol`), when it is worth saying."""


@dataclass(frozen=True)
class Member:
    """What a member's container is built from (the same for every member)."""

    cluster: str
    namespace: str
    spec: model.VectorClusterSpec
    replicas: int
    """What the StatefulSet asks for now (the current count while a scale-down is refused)."""
    credentials_secret: str
    """The Secret holding `Engine.credentials`, read into the member's environment."""
    tls: bool
    """Serve clients with the pair mounted from `names.TLS_VOLUME` (tls.crt, tls.key)."""
    backup_volume: bool
    """`names.BACKUP_VOLUME` is mounted for filesystem backups."""
    resources: Mapping[str, Any]
    """The database container's resources: the spec's, else the engine's `default_resources`."""
    memory_limit_bytes: int | None
    """The memory limit of `resources` in bytes (None without one), for an engine whose runtime
    should keep below it (a Go runtime's GOMEMLIMIT, say)."""
    gateway_users: tuple[str, ...] = ()
    """Users of the Gateways that reference the cluster: admins (a gateway writes)."""
    runestone_image: str = ""
    """The image the member's sidecar runs (Runestone's own), which also carries the programs an
    engine may install into `names.TOOLS_VOLUME`."""


@dataclass(frozen=True)
class User:
    """Who may connect with which key. `previous` are the hashes (SHA-256) of replaced keys
    still in their grace period: an engine that keeps plaintext keys finds them in its own
    current credentials and keeps them, an engine that keeps hashes keeps the hashes."""

    name: str
    key: str = field(repr=False)
    admin: bool
    previous: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """Where to reach one member, and how to trust it."""

    base_url: str
    server_hostname: str | None = None
    """The name to verify the serving certificate against (the client Service's DNS name),
    since members are reached by pod IP."""
    ca_pem: str | None = None
    api_key: str = field(default="", repr=False)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.base_url.startswith("https://"):
            return None
        # With no CA of our own, the system's trust store (a user's publicly trusted certificate).
        return ssl.create_default_context(cadata=self.ca_pem)


@dataclass(frozen=True)
class Shard:
    """Where the replicas of one shard live."""

    collection: str
    name: str
    nodes: frozenset[str]


@dataclass(frozen=True)
class Topology:
    """What a member says about the cluster: its members and where every shard lives."""

    members: tuple[str, ...]
    shards: tuple[Shard, ...]

    def counts(self) -> dict[str, int]:
        """Member name -> shard replicas it holds (0 for a member holding none)."""
        return {
            member: sum(1 for shard in self.shards if member in shard.nodes)
            for member in self.members
        }


BackupPhase = Literal["Running", "Succeeded", "Failed"]


@dataclass(frozen=True)
class BackupProgress:
    """How a backup, or the restore of one, goes."""

    phase: BackupPhase
    detail: str = ""
    """Why it failed, in the engine's own short words (never a key)."""


class EngineError(Exception):
    """A failed call to a member. `status` is the HTTP status (0 when the member was not
    reached); `refused` marks a request the engine will not take for reasons a retry cannot
    change (nothing to back up, say). The message never carries a key or a header."""

    def __init__(self, status: int, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.refused = refused


class BackupNotFound(EngineError):
    """The backend holds no backup of the id asked for."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message, refused=True)


class Engine(Protocol):
    """A database engine the VectorCluster kind can run."""

    @property
    def name(self) -> str:
        """`spec.engine`; also the members' `app.kubernetes.io/component` label."""
        ...

    # -- members (pure) ---------------------------------------------------------------------------

    @property
    def grace_seconds(self) -> int:
        """How long a member may take to stop (its pod's terminationGracePeriodSeconds)."""
        ...

    def image(self, spec: model.VectorClusterSpec) -> str:
        """The image of `spec.version`, unless `spec.image` names one."""
        ...

    @property
    def default_resources(self) -> Mapping[str, Any]:
        """A member's resources when the spec sets none; with a memory limit, since a
        database's memory grows with its data until it starves the node."""
        ...

    def container(self, member: Member) -> dict[str, Any]:
        """The member's database container, with `member.resources`. It mounts the kind's
        volumes (`names.DATA_VOLUME`, `names.TMP_VOLUME`, `names.TOOLS_VOLUME`, and
        `names.TLS_VOLUME` /
        `names.BACKUP_VOLUME` when `member` says so) where it wants them, and names its client
        port `client`."""
        ...

    def init_containers(self, member: Member) -> list[dict[str, Any]]:
        """Containers the member's pod runs to completion before the database container; they
        may write into `names.TOOLS_VOLUME` (an emptyDir), which the database container may
        mount. Empty when the engine needs none."""
        ...

    def client_port(self, tls: bool) -> int:
        """The port clients reach a member on (HTTPS with `tls`)."""
        ...

    def peer_ports(self) -> tuple[Port, ...]:
        """Ports only other members may reach (the NetworkPolicy fences them)."""
        ...

    def service_ports(self) -> tuple[Port, ...]:
        """Ports besides the client port that the client Service exposes."""
        ...

    def probe(self, key_file: str) -> list[str]:
        """The sidecar's arguments after `--target member`: `--engine` and what its member
        probe needs (`key_file` holds a read-only key)."""
        ...

    def credentials(self, users: Sequence[User], current: Mapping[str, str]) -> dict[str, str]:
        """The credentials Secret's data (plaintext values) for `users`, given what it holds now
        (`current`, decoded; empty when absent)."""
        ...

    def membership_refusal(self, current: int, target: int) -> str | None:
        """Why the engine's own membership forbids going from `current` to `target` members
        (consensus voters, say), whatever the shards; None when it allows it."""
        ...

    # -- asking a member --------------------------------------------------------------------------

    async def topology(self, endpoint: Endpoint) -> Topology:
        """The cluster's members and shard placement. Raises `EngineError`."""
        ...

    async def backup(
        self, endpoint: Endpoint, backend: str, backup_id: str
    ) -> BackupProgress | None:
        """How backup `backup_id` goes; None when there is no such backup. Raises
        `EngineError`."""
        ...

    async def start_backup(self, endpoint: Endpoint, backend: str, backup_id: str) -> None:
        """Start backing up every collection to `backend` (it runs in the background). Raises
        `EngineError`."""
        ...

    async def restore(
        self, endpoint: Endpoint, backend: str, backup_id: str
    ) -> BackupProgress | None:
        """How the restore of backup `backup_id` into the cluster goes; None when none was
        started. Raises `EngineError`."""
        ...

    async def start_restore(
        self, endpoint: Endpoint, backend: str, backup_id: str, members: Mapping[str, str]
    ) -> None:
        """Start restoring every collection of backup `backup_id` from `backend` into the cluster
        (it runs in the background). `members` maps each member name the backup was taken on to
        the member that takes its data now. Raises `BackupNotFound` when the backend holds no
        such backup, else `EngineError`."""
        ...
