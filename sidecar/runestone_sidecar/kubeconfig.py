"""Where the API server is and how to authenticate: in-cluster config, or `KUBECONFIG` when set.

Only what a sidecar needs: bearer tokens (inline or from a file that is re-read, because the
kubelet rotates projected tokens), client certificates, and the cluster CA. Exec and auth-provider
plugins are refused with a clear message. A token is never part of an error message.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """The API server cannot be reached with the configuration found."""


@dataclass(frozen=True)
class ApiAccess:
    server: str  # https://host:port, no trailing slash
    ssl_context: ssl.SSLContext | None
    tls_server_name: str | None = None
    token: str | None = field(default=None, repr=False)  # never in a log line or a traceback
    token_file: Path | None = None
    source: str = ""  # where this came from, for logs

    def bearer_token(self) -> str | None:
        if self.token_file is not None:
            try:
                return self.token_file.read_text().strip() or None
            except OSError:
                return None
        return self.token


def load(env: Mapping[str, str] | None = None) -> ApiAccess:
    environ = os.environ if env is None else env
    kubeconfig = environ.get("KUBECONFIG", "")
    if kubeconfig:
        paths = [part for part in kubeconfig.split(os.pathsep) if part]
        if not paths:
            raise ConfigError("KUBECONFIG is set but names no file")
        return from_kubeconfig(Path(paths[0]))
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "443")
    if host:
        return in_cluster(host, port, IN_CLUSTER_DIR)
    raise ConfigError("neither KUBECONFIG nor in-cluster service-account configuration is present")


def in_cluster(host: str, port: str, secrets: Path) -> ApiAccess:
    token_file = secrets / "token"
    if not token_file.exists():
        raise ConfigError(f"in-cluster token file {token_file} does not exist")
    context = _client_context()
    context.load_verify_locations(cafile=str(secrets / "ca.crt"))
    shown = f"[{host}]" if ":" in host else host
    return ApiAccess(
        server=f"https://{shown}:{port}",
        ssl_context=context,
        token_file=token_file,
        source="in-cluster service account",
    )


def from_kubeconfig(path: Path) -> ApiAccess:
    try:
        raw = _parse(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read kubeconfig {path}: {error}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    base_dir = path.parent
    context_name = raw.get("current-context")
    context = _named(raw, "contexts", context_name, "context")
    cluster = _named(raw, "clusters", context.get("cluster"), "cluster")
    user = _named(raw, "users", context.get("user"), "user") if context.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise ConfigError(
            f"kubeconfig {path}: user {context.get('user')!r} uses an exec or auth-provider "
            "plugin, which the sidecar does not run; use a token, a tokenFile or a client "
            "certificate"
        )
    server = str(cluster.get("server") or "").rstrip("/")
    if not server.startswith(("https://", "http://")):
        raise ConfigError(f"kubeconfig {path}: cluster has no http(s) server")
    context_ssl = _ssl_context(cluster, user, base_dir) if server.startswith("https://") else None
    token_file = user.get("tokenFile")
    return ApiAccess(
        server=server,
        ssl_context=context_ssl,
        tls_server_name=cluster.get("tls-server-name") or None,
        token=user.get("token") or None,
        token_file=_resolve(base_dir, token_file) if token_file else None,
        source=f"kubeconfig {path}",
    )


def _parse(text: str) -> Any:
    """JSON kubeconfigs parse without the YAML parser, which costs a megabyte of memory; in-cluster
    pods need neither."""
    if text.lstrip().startswith("{"):
        return json.loads(text)
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from None


def _named(raw: Mapping[str, Any], section: str, name: Any, key: str) -> Mapping[str, Any]:
    for entry in raw.get(section) or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            value = entry.get(key)
            if isinstance(value, Mapping):
                return value
    raise ConfigError(f"kubeconfig names no {key} {name!r} in {section}")


def _resolve(base_dir: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else base_dir / path


def _client_context() -> ssl.SSLContext:
    """A verifying TLS client context that trusts nothing yet.

    Not `ssl.create_default_context()`: that loads the whole system trust store (about 2.5 MB of
    this process's memory) when the API server is vouched for by one cluster CA.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _ssl_context(
    cluster: Mapping[str, Any], user: Mapping[str, Any], base_dir: Path
) -> ssl.SSLContext:
    context = _client_context()
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif cluster.get("certificate-authority-data"):
        pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
        context.load_verify_locations(cadata=pem)
    elif cluster.get("certificate-authority"):
        authority = _resolve(base_dir, cluster["certificate-authority"])
        context.load_verify_locations(cafile=str(authority))
    else:  # a server with a publicly trusted certificate
        context.load_default_certs()
    cert_data, key_data = user.get("client-certificate-data"), user.get("client-key-data")
    if cert_data and key_data:
        # ssl can load a client key pair only from files: stage them in a private directory.
        import tempfile

        with tempfile.TemporaryDirectory(prefix="runestone-sidecar-") as staging:
            cert, key = Path(staging) / "client.crt", Path(staging) / "client.key"
            cert.write_bytes(base64.b64decode(cert_data))
            key.touch(mode=0o600)
            key.write_bytes(base64.b64decode(key_data))
            context.load_cert_chain(cert, key)
    elif user.get("client-certificate") and user.get("client-key"):
        context.load_cert_chain(
            _resolve(base_dir, user["client-certificate"]), _resolve(base_dir, user["client-key"])
        )
    return context
