"""Real Weaviate members for the tests: the process kubelet's adapter and a small REST client.

A VectorCluster pod's Weaviate container is rendered for a real cluster: every member uses the
same ports, peers are named by their StatefulSet DNS names, and the data lives on a PVC. On this
host all pods share one network namespace, with an address each (their podIP). Weaviate
binds memberlist (gossip), Raft and Raft RPC to `CLUSTER_BIND_ADDR`, and the REST API to
`--host`, so those keep their ports. Three listeners always bind every interface: the
cluster-internal data API (`CLUSTER_DATA_BIND_PORT`), the client gRPC API (`GRPC_PORT`) and the
optional metrics and profiling endpoints, so the adapter gives each member its own numbers for
those, derived from its address (`host_ports`). Peers learn each other's data port from
memberlist metadata, so nothing else needs to know. `CLUSTER_JOIN` names pods by DNS, which
nothing resolves here, so the adapter replaces each name with that pod's address.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from devcluster import gobuild, kube, layout, storage, versions
from devcluster.kubelet import containers, network

log = logging.getLogger("devcluster.weaviate")

REST_PORT = 8080
GOSSIP_PORT = 7100
SHARED_BINARIES = Path("/var/tmp/runestone-devcluster")
HOST_PORT_SLOTS = network.POOL_SIZE  # distinct for the addresses of any two live pods
CLUSTER_DOMAIN = "cluster.local"
IMAGE_ENTRYPOINT = "/bin/weaviate"
"""Where Weaviate's image has the server (its ENTRYPOINT)."""
ENV_ANNOTATION = "devcluster.runestone.dev/weaviate-env"
"""On a namespace: a JSON object of environment variables that every Weaviate member there gets
over what its pod says, for a test that runs members with a setting the operator does not render
(synchronous indexing, say, to show what the rendered one prevents)."""
# The weaviate-server builds an image tag may ask for (`<repository>:<version>`).
RELEASES: tuple[versions.GoProgram, ...] = (versions.WEAVIATE, versions.WEAVIATE_PREVIOUS)

# What a kubelet does with a `preStop: {sleep: {seconds: N}}` hook: on termination, wait N seconds,
# then SIGTERM the program. The process kubelet signals a container's whole process group at once,
# so the program runs in a group of its own, and dies with this wrapper (PR_SET_PDEATHSIG) when
# the kubelet has to SIGKILL it.
PRE_STOP_WRAPPER = r"""
import ctypes, os, signal, subprocess, sys, time
delay, argv = float(sys.argv[1]), sys.argv[2:]
libc = ctypes.CDLL(None, use_errno=True)
def detach():
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    os.setpgid(0, 0)
child = subprocess.Popen(argv, preexec_fn=detach)
def stop(signum, frame):
    print(f"preStop: sleeping {delay:g}s before SIGTERM", file=sys.stderr, flush=True)
    time.sleep(delay)
    child.send_signal(signal.SIGTERM)
signal.signal(signal.SIGTERM, stop)
while True:
    try:
        sys.exit(child.wait())
    except InterruptedError:
        continue
"""


@dataclasses.dataclass(frozen=True)
class HostPorts:
    """The per-member port numbers for Weaviate's listeners that bind every interface."""

    data: int
    grpc: int
    metrics: int
    profiling: int


def host_ports(pod_ip: str) -> HostPorts:
    """Ports for the member at `pod_ip`, in the cluster's range (`layout.Ports.pod_host_ports`).
    The process kubelet gives live pods addresses from a pool of HOST_PORT_SLOTS consecutive ones,
    so two live members never get the same ports."""
    _, _, high, low = (int(octet) for octet in pod_ip.split("."))
    slot = (high * 256 + low) % HOST_PORT_SLOTS
    base = layout.Ports.from_env().pod_host_ports + slot * 4
    return HostPorts(data=base, grpc=base + 1, metrics=base + 2, profiling=base + 3)


def binary_for(image: str) -> Path | None:
    """The weaviate-server built for the image's version tag, or None when none is built.

    The build cache may sit in a folder a pod's user cannot traverse (/root/.cache); an
    unprivileged process can still be exec'd from there by the kubelet's setpriv, but not start
    it itself (as the preStop wrapper does). So members run a hard link in a world-readable
    folder that pods do not cover."""
    tag = image.rsplit("@", 1)[0].rpartition(":")[2] if ":" in image.rsplit("/", 1)[-1] else ""
    wanted = tag.removeprefix("v")
    for program in RELEASES:
        if program.version.removeprefix("v") == wanted and gobuild.is_built(program):
            return _shared_link(Path(gobuild.binary(program, "weaviate-server")), program.key)
    return None


def start_program() -> Path:
    """Runestone's start program for members (operator/weaviate-start), built if need be (a few
    seconds), where a pod's user can read it."""
    program = versions.WEAVIATE_START
    (name,) = program.binaries
    return _shared_link(gobuild.build(program) / name, program.key)


def _shared_link(binary: Path, key: str) -> Path:
    folder = SHARED_BINARIES / key
    link = folder / binary.name
    if link.exists() and link.stat().st_ino == binary.stat().st_ino:
        return link
    folder.mkdir(parents=True, exist_ok=True)
    for directory in (SHARED_BINARIES, folder):
        directory.chmod(0o755)
    staged = folder / f".{binary.name}.{os.getpid()}"
    staged.unlink(missing_ok=True)
    try:
        os.link(binary, staged)
    except OSError:  # another filesystem: a copy will do
        shutil.copy2(binary, staged)
    os.replace(staged, link)
    return link


def pod_directory(workdir: Path, pod: Any) -> Path:
    """Where the process kubelet keeps a pod's volumes and logs (its own layout)."""
    name = f"{pod.metadata.name}-{pod.metadata.uid[:8]}"
    return workdir / "pods" / str(pod.metadata.namespace) / name


def _split_host_port(entry: str) -> tuple[str, str]:
    host, sep, port = entry.rpartition(":")
    return (host, port) if sep else (entry, "")


def _is_ip(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def _dns_labels(host: str) -> list[str]:
    for suffix in (f".svc.{CLUSTER_DOMAIN}", ".svc"):
        if host.endswith(suffix):
            return host[: -len(suffix)].split(".")
    return []


def resolve_join(core: client.CoreV1Api, join: str) -> tuple[str, list[str]]:
    """Replace the Kubernetes DNS names in a `CLUSTER_JOIN` list with pod addresses.

    `<pod>.<service>.<namespace>.svc[.cluster.local]` becomes that pod's address;
    `<service>.<namespace>.svc[...]` becomes every selected pod's. Names of pods that have no
    address yet are left out (and returned), as DNS would leave them out.
    """
    resolved: list[str] = []
    missing: list[str] = []
    for entry in (e.strip() for e in join.split(",") if e.strip()):
        host, port = _split_host_port(entry)
        labels = _dns_labels(host)
        if _is_ip(host) or len(labels) not in (2, 3):
            resolved.append(entry)
            continue
        addresses = _addresses(core, labels)
        if not addresses:
            missing.append(host)
        resolved.extend(f"{address}:{port}" if port else address for address in addresses)
    return ",".join(dict.fromkeys(resolved)), missing


def _addresses(core: client.CoreV1Api, labels: list[str]) -> list[str]:
    namespace = labels[-1]
    pods = [
        p
        for p in core.list_namespaced_pod(namespace).items
        if p.status.pod_ip and p.metadata.deletion_timestamp is None
    ]
    if len(labels) == 3:
        hostname, subdomain = labels[0], labels[1]
        chosen = [p for p in pods if p.spec.hostname == hostname and p.spec.subdomain == subdomain]
    else:
        service = core.read_namespaced_service(labels[0], namespace)
        selector = service.spec.selector or {}
        chosen = [
            p
            for p in pods
            if selector and all((p.metadata.labels or {}).get(k) == v for k, v in selector.items())
        ]
    return [str(p.status.pod_ip) for p in chosen]


def kubelet_adapter(api: client.ApiClient, workdir: Path) -> containers.Adapter:
    """The process kubelet's adapter for the `weaviate` image (see the module docstring)."""
    core = client.CoreV1Api(api)

    def adapt(pod: Any, container: Any, argv: list[str], env: dict[str, str], ip: str) -> list[str]:
        env.update(env_overrides(core, str(pod.metadata.namespace)))
        ports = host_ports(ip)
        env["CLUSTER_BIND_ADDR"] = ip
        env["CLUSTER_DATA_BIND_PORT"] = str(ports.data)
        env["GRPC_PORT"] = str(ports.grpc)
        env["PROMETHEUS_MONITORING_PORT"] = str(ports.metrics)
        env["GO_PROFILING_PORT"] = str(ports.profiling)
        if env.get("CLUSTER_JOIN"):
            env["CLUSTER_JOIN"], missing = resolve_join(core, env["CLUSTER_JOIN"])
            if missing:
                log.info("%s: peers without an address yet: %s", pod.metadata.name, missing)
        uid, gid = containers.user_of(pod, container)
        storage.link_claims(core, pod, pod_directory(workdir, pod), uid, gid)
        binary = binary_for(str(container.image))
        if binary is None:
            # Like a kubelet that cannot pull the image: the container fails, visibly, alone.
            message = f"no weaviate-server build for image {container.image}"
            return ["/bin/sh", "-c", f"echo {shlex.quote(message)} >&2; exit 1"]
        if container.command:
            # A start program before Weaviate (the member's runestone-weaviate-start): it execs
            # the image's Weaviate, which is this build here.
            program = [str(binary) if arg == IMAGE_ENTRYPOINT else arg for arg in argv]
        else:
            program = [str(binary), *argv[1:]]
        delay = _pre_stop_sleep(container)
        if delay:
            return [sys.executable, "-c", PRE_STOP_WRAPPER, str(delay), *program]
        return program

    return adapt


def env_overrides(core: client.CoreV1Api, namespace: str) -> dict[str, str]:
    """The namespace's `ENV_ANNOTATION` (nothing when it has none)."""
    annotations = core.read_namespace(namespace).metadata.annotations or {}
    text = annotations.get(ENV_ANNOTATION)
    if not text:
        return {}
    values = json.loads(text)
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise ValueError(f"{namespace}: {ENV_ANNOTATION} must be a JSON object of strings")
    log.info("%s: Weaviate members get %s from %s", namespace, sorted(values), ENV_ANNOTATION)
    return {str(k): v for k, v in values.items()}


def _pre_stop_sleep(container: Any) -> int:
    hook = container.lifecycle.pre_stop if container.lifecycle else None
    sleep = getattr(hook, "sleep", None) if hook is not None else None
    return int(sleep.seconds) if sleep is not None and sleep.seconds else 0


# -- reaching a member ----------------------------------------------------------------------------


def member_url(pod_ip: str, port: int = REST_PORT, scheme: str = "http") -> str:
    return f"{scheme}://{pod_ip}:{port}"


@dataclasses.dataclass
class Client:
    """Weaviate's REST API at one member, with an optional API key."""

    base_url: str
    api_key: str | None = None
    timeout: float = 30.0  # schema changes go through Raft, which is slow on a loaded machine
    verify: Any = True  # an ssl.SSLContext, a CA bundle path or a bool, as httpx takes it
    sni_hostname: str | None = None
    """The name to verify the certificate against when `base_url` names a pod by address."""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        with httpx.Client(verify=self.verify, timeout=self.timeout) as http:
            extensions = {"sni_hostname": self.sni_hostname} if self.sni_hostname else None
            return http.request(
                method,
                self.base_url + path,
                json=body,
                params=params,
                headers=headers,
                extensions=extensions,
            )

    def ok(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """The decoded answer of a request that must succeed (raises on any other status)."""
        response = self.request(method, path, body, params)
        if response.status_code >= 300:
            raise WeaviateError(method, path, response.status_code, response.text[:300])
        return response.json() if response.content else None

    def ready(self) -> bool:
        try:
            return self.request("GET", "/v1/.well-known/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def nodes(self, verbose: bool = False) -> list[dict[str, Any]]:
        params = {"output": "verbose"} if verbose else None
        nodes: list[dict[str, Any]] = self.ok("GET", "/v1/nodes", params=params)["nodes"]
        return nodes

    def queued(self) -> int:
        """Vectors waiting in the indexing queues of every shard of every node: with asynchronous
        indexing a search finds an object only once its vector has left the queue."""
        return sum(
            shard.get("vectorQueueLength") or 0
            for node in self.nodes(verbose=True)
            for shard in node.get("shards") or []
        )

    def node_names(self) -> set[str]:
        return {n["name"] for n in self.nodes() if n.get("status") == "HEALTHY"}

    def create_collection(
        self, name: str, replication_factor: int, properties: Sequence[str] = ("title",)
    ) -> None:
        self.ok(
            "POST",
            "/v1/schema",
            {
                "class": name,
                "vectorizer": "none",
                "replicationConfig": {"factor": replication_factor},
                "properties": [{"name": p, "dataType": ["text"]} for p in properties],
            },
        )

    def insert(self, collection: str, objects: Sequence[Mapping[str, Any]]) -> None:
        """Insert objects ({"properties": ..., "vector": ...}) in one batch; all must succeed."""
        batch = [{"class": collection, **o} for o in objects]
        results = self.ok("POST", "/v1/batch/objects", {"objects": batch})
        failed = [r["result"]["errors"] for r in results if r.get("result", {}).get("errors")]
        if failed:
            raise WeaviateError("POST", "/v1/batch/objects", 200, json.dumps(failed[:3]))

    def count(self, collection: str) -> int:
        query = {"query": f"{{ Aggregate {{ {collection} {{ meta {{ count }} }} }} }}"}
        answer = self.ok("POST", "/v1/graphql", query)
        if answer.get("errors"):
            raise WeaviateError("POST", "/v1/graphql", 200, json.dumps(answer["errors"])[:300])
        return int(answer["data"]["Aggregate"][collection][0]["meta"]["count"])

    def object_ids(self, collection: str, limit: int = 100) -> list[str]:
        answer = self.ok("GET", "/v1/objects", params={"class": collection, "limit": str(limit)})
        return [o["id"] for o in answer["objects"]]

    def get(self, collection: str, object_id: str, consistency: str = "QUORUM") -> Any:
        """One object by id, read from as many replicas as `consistency` asks."""
        path = f"/v1/objects/{collection}/{object_id}"
        return self.ok("GET", path, params={"consistency_level": consistency})

    def _near(self, collection: str, vector: Sequence[float], limit: int, fields: str) -> list[Any]:
        query = {
            "query": f"{{ Get {{ {collection}(nearVector: {{vector: {list(vector)}}}, "
            f"limit: {limit}) {{ {fields} }} }} }}"
        }
        answer = self.ok("POST", "/v1/graphql", query)
        if answer.get("errors"):
            raise WeaviateError("POST", "/v1/graphql", 200, json.dumps(answer["errors"])[:300])
        hits: list[Any] = answer["data"]["Get"][collection]
        return hits

    def near_vector(self, collection: str, vector: Sequence[float], limit: int = 3) -> list[Any]:
        """A vector search; GraphQL errors (a replica missing, say) raise."""
        return self._near(collection, vector, limit, "title")

    def nearest_ids(self, collection: str, vector: Sequence[float], limit: int) -> list[str]:
        """The ids of the `limit` objects nearest `vector`, nearest first."""
        return [
            hit["_additional"]["id"]
            for hit in self._near(collection, vector, limit, "_additional { id }")
        ]


class WeaviateError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {detail}")
        self.status = status


def wait_for(check: Callable[[], bool]) -> bool:
    """`check()` with transport errors counted as False (for `eventually`)."""
    try:
        return check()
    except (httpx.HTTPError, WeaviateError):
        return False


# -- acting like a node operator on a member's process ---------------------------------------------


def _control_file(workdir: Path, namespace: str, pod: str, container: str, suffix: str) -> Path:
    return kube.container_log(workdir, namespace, pod, container).with_suffix(suffix)


def kill_container(workdir: Path, namespace: str, pod: str, container: str = "weaviate") -> int:
    """SIGKILL a container's processes (its whole session) and keep the kubelet from restarting
    it; its PID."""
    _control_file(workdir, namespace, pod, container, ".hold").touch()
    pid = int(_control_file(workdir, namespace, pod, container, ".pid").read_text())
    containers.kill_session(pid)
    return pid


def release_container(workdir: Path, namespace: str, pod: str, container: str = "weaviate") -> None:
    """Let the kubelet start a held container again."""
    _control_file(workdir, namespace, pod, container, ".hold").unlink(missing_ok=True)
