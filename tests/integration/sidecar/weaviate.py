"""One real weaviate-server node on loopback (built from its pinned Go module), with API-key
authentication, for the weaviate probe to judge."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devcluster import gobuild, processes

API_KEY = "weaviate-admin-key-for-tests"


def single_node_env(home: Path, data: Path, hostname: str) -> dict[str, str]:
    """A one-node cluster's environment on loopback ports free now, without authentication
    settings; the REST port is the command line's."""
    gossip, data_port, raft, raft_rpc, grpc_port = (processes.free_port() for _ in range(5))
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PERSISTENCE_DATA_PATH": str(data),
        "CLUSTER_HOSTNAME": hostname,
        "CLUSTER_ADVERTISE_ADDR": "127.0.0.1",
        "CLUSTER_GOSSIP_BIND_PORT": str(gossip),
        "CLUSTER_DATA_BIND_PORT": str(data_port),
        "RAFT_PORT": str(raft),
        "RAFT_INTERNAL_RPC_PORT": str(raft_rpc),
        "RAFT_BOOTSTRAP_EXPECT": "1",
        "RAFT_JOIN": hostname,
        "GRPC_PORT": str(grpc_port),
        "DEFAULT_VECTORIZER_MODULE": "none",
        "DISABLE_TELEMETRY": "true",
        "LOG_LEVEL": "warning",
    }


class WeaviateNode:
    def __init__(self, workdir: Path, hostname: str) -> None:
        binary = gobuild.ensure(["weaviate"])["weaviate-server"]
        self.hostname = hostname
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.key_file = workdir / "weaviate-api-key"
        self.key_file.write_text(API_KEY)
        self.key_file.chmod(0o600)
        env = {
            **single_node_env(workdir, workdir / "weaviate-data", hostname),
            "AUTHENTICATION_APIKEY_ENABLED": "true",
            "AUTHENTICATION_APIKEY_ALLOWED_KEYS": API_KEY,
            "AUTHENTICATION_APIKEY_USERS": "admin",
            "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
            "AUTHORIZATION_ADMINLIST_ENABLED": "true",
            "AUTHORIZATION_ADMINLIST_USERS": "admin",
        }
        self.log_path = workdir / "weaviate.log"
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(
                [str(binary), "--host", "127.0.0.1", "--port", str(self.port), "--scheme", "http"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 -- a loopback http URL built here
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                raw = response.read()
                return int(response.status), json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode(errors="replace")

    def stop(self) -> None:
        processes.stop(self.popen)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]
