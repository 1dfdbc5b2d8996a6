"""Weaviate members: `/v1/.well-known/ready`, then this member's own entry in `/v1/nodes`.

Weaviate's gRPC health always says SERVING and `/.well-known/ready` says nothing about cluster
membership, so readiness also needs this node listed as HEALTHY with none of its shards loading,
read-only or shutting down. A member that is not ready yet must also have indexed what it stored:
with asynchronous indexing, a restarted member answers searches while it indexes the vectors its
queue held at start-up, and misses them until then. `/v1/nodes` needs the API key, read from a
file on every probe so that a rotated key is picked up; the key never appears in a message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runestone_sidecar import conditions, httpclient, settings
from runestone_sidecar.probes import base

# Shard states that serve traffic. INDEXING still answers queries while its vector queue drains;
# LAZY_LOADING is a shard that loads on first use (LAZY_LOAD_SHARDS). LOADING, READONLY and
# SHUTDOWN do not serve writes, and an unknown future state is treated as not ready.
SERVING_SHARD_STATES = frozenset({"READY", "INDEXING", "LAZY_LOADING"})
HEALTHY = "HEALTHY"
MAX_LISTED = 5
MAX_QUEUED_VECTORS = 1000
"""Vectors a shard may have waiting in its indexing queue when its member turns ready. Not 0: a
member that takes writes always has a few queued (at most ~70 per shard under a steady 460
objects/s, measured on v1.39.3 with the operator's queue settings), and it must still become
ready; but far below what a member restarted after a crash can hold. The bound only holds a
member back: a ready member whose queue grows under a bulk load stays ready (`base.catching_up`),
since every replica's queue grows with it."""


@dataclass(frozen=True)
class WeaviateProbe:
    base_url: str  # e.g. http://127.0.0.1:8080
    node_name: str
    api_key_file: Path | None
    timeout: float

    @property
    def describe(self) -> str:
        return f"weaviate member {self.node_name} at {self.base_url}"

    async def check(self) -> base.ProbeResult:
        root = self.base_url.rstrip("/")
        ready_url = f"{root}/v1/.well-known/ready"
        try:
            ready = await httpclient.request("GET", ready_url, time_limit=self.timeout)
        except httpclient.TransportError as error:
            return base.from_transport(f"GET {ready_url}", error)
        if ready.status != 200:
            return base.failure(
                conditions.TARGET_NOT_READY, f"GET {ready_url} answered {ready.status}"
            )
        nodes_url = f"{root}/v1/nodes?output=verbose"
        headers = {"Accept": "application/json"}
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            nodes = await httpclient.request(
                "GET", nodes_url, headers=headers, time_limit=self.timeout
            )
        except httpclient.TransportError as error:
            return base.from_transport(f"GET {nodes_url}", error)
        if nodes.status in (401, 403):
            source = f"the API key from {self.api_key_file}" if key else "no API key"
            return base.failure(
                conditions.UNAUTHORIZED,
                f"GET {nodes_url} answered {nodes.status} with {source}",
            )
        if nodes.status != 200:
            return base.failure(
                conditions.TARGET_NOT_READY,
                f"GET {nodes_url} answered {nodes.status}: {nodes.text()}",
            )
        try:
            payload = json.loads(nodes.body)
        except ValueError:
            return base.failure(
                conditions.BAD_RESPONSE, f"GET {nodes_url} answered non-JSON: {nodes.text(120)}"
            )
        return judge_nodes(payload, self.node_name)

    def _api_key(self) -> str:
        if self.api_key_file is None:
            return ""
        try:
            return self.api_key_file.read_text().strip()
        except OSError:
            return ""  # the answer (401) says the rest


def judge_nodes(payload: Any, node_name: str) -> base.ProbeResult:
    """Decide from a `/v1/nodes?output=verbose` answer whether `node_name` can serve."""
    nodes = payload.get("nodes") if isinstance(payload, Mapping) else None
    if not isinstance(nodes, list):
        return base.failure(conditions.BAD_RESPONSE, "/v1/nodes answer has no `nodes` list")
    named = [n for n in nodes if isinstance(n, Mapping)]
    node = next((n for n in named if n.get("name") == node_name), None)
    if node is None:
        seen = ", ".join(str(n.get("name")) for n in named[:MAX_LISTED]) or "none"
        return base.failure(
            conditions.NODE_NOT_IN_CLUSTER,
            f"node {node_name} is not among the cluster's members ({seen})",
        )
    status = node.get("status")
    if status != HEALTHY:
        return base.failure(conditions.NODE_UNHEALTHY, f"node {node_name} is {status}")
    shards = node.get("shards") or []
    if not isinstance(shards, list):
        return base.failure(conditions.BAD_RESPONSE, f"node {node_name} has a malformed shard list")
    stuck = [s for s in shards if not _serving(s)]
    if stuck:
        listed = ", ".join(_describe_shard(s) for s in stuck[:MAX_LISTED])
        more = f" and {len(stuck) - MAX_LISTED} more" if len(stuck) > MAX_LISTED else ""
        return base.failure(
            conditions.SHARDS_NOT_READY,
            f"node {node_name} has {len(stuck)} shard(s) not serving: {listed}{more}",
        )
    behind = [s for s in shards if _queued(s) > MAX_QUEUED_VECTORS]
    if behind:
        listed = ", ".join(
            f"{s.get('class')}/{s.get('name')} {_queued(s)}" for s in behind[:MAX_LISTED]
        )
        more = f" and {len(behind) - MAX_LISTED} more" if len(behind) > MAX_LISTED else ""
        return base.catching_up(
            conditions.INDEX_BEHIND,
            f"node {node_name} has {len(behind)} shard(s) with more than {MAX_QUEUED_VECTORS} "
            f"vectors waiting to be indexed: {listed}{more}",
        )
    return base.success(f"node {node_name} is {HEALTHY} and its shards are serving")


def _serving(shard: Any) -> bool:
    return isinstance(shard, Mapping) and shard.get("vectorIndexingStatus") in SERVING_SHARD_STATES


def _queued(shard: Mapping[str, Any]) -> int:
    """The shard's `vectorQueueLength` (absent for a shard not loaded: nothing queued)."""
    length = shard.get("vectorQueueLength")
    return length if isinstance(length, int) else 0


def _describe_shard(shard: Any) -> str:
    if not isinstance(shard, Mapping):
        return "(malformed shard entry)"
    return f"{shard.get('class')}/{shard.get('name')} {shard.get('vectorIndexingStatus')}"


def probe(config: settings.Settings) -> base.Probe:
    """The member probe `--target member --engine weaviate` runs."""
    return WeaviateProbe(config.url, config.node_name, config.api_key_file, config.timeout)
