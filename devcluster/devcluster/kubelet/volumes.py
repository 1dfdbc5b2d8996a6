"""Pod volumes written the way a kubelet writes them.

ConfigMap, Secret, projected and downwardAPI volumes use the kubelet's atomic-writer layout: the
files live in a timestamped directory, `..data` is a symlink to it, and each visible name is a
symlink through `..data`. An update writes a new directory and swaps `..data` in one rename, so a
process watching the volume sees either the old or the new set of files, never a mix, exactly
as inside a real pod. That is what the gateway's hot reload must cope with.
"""

from __future__ import annotations

import base64
import datetime
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

DATA = "..data"
TOKEN_REFRESH_FRACTION = 0.8


@dataclass(frozen=True)
class File:
    content: bytes
    mode: int


def write_atomically(directory: Path, files: dict[str, File]) -> bool:
    """Make `directory` hold exactly `files` (kubelet layout); return False when nothing changed."""
    directory.mkdir(parents=True, exist_ok=True)
    current = directory / DATA
    if current.exists() and _same(current.resolve(), files):
        return False
    stamp = datetime.datetime.now(datetime.UTC).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    target = directory / stamp
    for name, file in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file.content)
        path.chmod(file.mode)
    target.mkdir(exist_ok=True)
    swap = directory / "..data_tmp"
    swap.unlink(missing_ok=True)
    swap.symlink_to(stamp)
    old = current.resolve() if current.is_symlink() else None
    os.replace(swap, current)
    for name in {name.split("/", 1)[0] for name in files}:
        link = directory / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA}/{name}")
    for entry in directory.iterdir():
        if entry.is_symlink() and not entry.name.startswith("..") and not entry.exists():
            entry.unlink()
    if old is not None and old.name != stamp:
        shutil.rmtree(old, ignore_errors=True)
    return True


def _same(existing: Path, files: dict[str, File]) -> bool:
    present = {str(path.relative_to(existing)) for path in existing.rglob("*") if path.is_file()}
    if present != set(files):
        return False
    return all((existing / name).read_bytes() == file.content for name, file in files.items())


@dataclass
class VolumeSource:
    """Reads what one pod's volumes should hold from the API server."""

    api: client.ApiClient
    pod: Any  # V1Pod
    pod_ip: str
    _token_expiry: float = 0.0
    _token_cache: bytes = b""

    @property
    def namespace(self) -> str:
        return str(self.pod.metadata.namespace)

    def files(self, volume: Any, now: float) -> dict[str, File] | None:
        """The files of a volume, or None for kinds that are plain directories (emptyDir)."""
        if volume.config_map is not None:
            source = volume.config_map
            data = self._config_map(source.name, bool(source.optional))
            return self._select(
                data, source.items, source.default_mode or 0o644, bool(source.optional)
            )
        if volume.secret is not None:
            source = volume.secret
            data = self._secret(source.secret_name, bool(source.optional))
            return self._select(
                data, source.items, source.default_mode or 0o644, bool(source.optional)
            )
        if volume.projected is not None:
            return self._projected(volume.projected, now)
        if volume.downward_api is not None:
            return self._downward(
                volume.downward_api.items or [], volume.downward_api.default_mode or 0o644
            )
        return None

    def _config_map(self, name: str, optional: bool) -> dict[str, bytes]:
        try:
            config_map = client.CoreV1Api(self.api).read_namespaced_config_map(name, self.namespace)
        except ApiException as error:
            if error.status == 404 and optional:
                return {}
            raise
        data = {key: value.encode() for key, value in (config_map.data or {}).items()}
        for key, value in (config_map.binary_data or {}).items():
            data[key] = base64.b64decode(value)
        return data

    def _secret(self, name: str, optional: bool) -> dict[str, bytes]:
        try:
            secret = client.CoreV1Api(self.api).read_namespaced_secret(name, self.namespace)
        except ApiException as error:
            if error.status == 404 and optional:
                return {}
            raise
        return {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}

    @staticmethod
    def _select(
        data: dict[str, bytes], items: list[Any] | None, default_mode: int, optional: bool = False
    ) -> dict[str, File]:
        """The files `items` pick (every key without them). A key missing from an optional
        source is left out, as a kubelet does; from any other source it is an error."""
        if not items:
            return {key: File(value, default_mode) for key, value in data.items()}
        selected = {}
        for item in items:
            if item.key not in data and optional:
                continue
            if item.key not in data:
                raise KeyError(f"key {item.key!r} is not in the volume's source")
            selected[item.path] = File(data[item.key], item.mode or default_mode)
        return selected

    def _projected(self, projected: Any, now: float) -> dict[str, File]:
        mode = projected.default_mode or 0o644
        files: dict[str, File] = {}
        for source in projected.sources or []:
            if source.service_account_token is not None:
                token = source.service_account_token
                files[token.path] = File(self._token(token, now), 0o600 if mode == 0o644 else mode)
            elif source.config_map is not None:
                data = self._config_map(source.config_map.name, bool(source.config_map.optional))
                optional = bool(source.config_map.optional)
                files.update(self._select(data, source.config_map.items, mode, optional))
            elif source.secret is not None:
                data = self._secret(source.secret.name, bool(source.secret.optional))
                optional = bool(source.secret.optional)
                files.update(self._select(data, source.secret.items, mode, optional))
            elif source.downward_api is not None:
                files.update(self._downward(source.downward_api.items or [], mode))
        return files

    def _token(self, projection: Any, now: float) -> bytes:
        """A token bound to this pod, renewed at 80% of its lifetime as the kubelet does."""
        if self._token_cache and now < self._token_expiry:
            return self._token_cache
        lifetime = int(projection.expiration_seconds or 3607)
        spec = client.V1TokenRequestSpec(
            audiences=[projection.audience] if projection.audience else [],
            expiration_seconds=lifetime,
            bound_object_ref=client.V1BoundObjectReference(
                kind="Pod", api_version="v1", name=self.pod.metadata.name, uid=self.pod.metadata.uid
            ),
        )
        response = client.CoreV1Api(self.api).create_namespaced_service_account_token(
            self.pod.spec.service_account_name or "default",
            self.namespace,
            client.AuthenticationV1TokenRequest(spec=spec),
        )
        self._token_cache = response.status.token.encode()
        self._token_expiry = now + lifetime * TOKEN_REFRESH_FRACTION
        return self._token_cache

    def _downward(self, items: list[Any], default_mode: int) -> dict[str, File]:
        files = {}
        for item in items:
            if item.field_ref is None:
                continue
            value = field_value(self.pod, item.field_ref.field_path, self.pod_ip)
            files[item.path] = File(value.encode(), item.mode or default_mode)
        return files


def field_value(pod: Any, path: str, pod_ip: str) -> str:
    """A downward-API field. The pod IP is the address the kubelet gave the pod."""
    simple = {
        "metadata.name": pod.metadata.name,
        "metadata.namespace": pod.metadata.namespace,
        "metadata.uid": pod.metadata.uid,
        "spec.nodeName": pod.spec.node_name,
        "spec.serviceAccountName": pod.spec.service_account_name or "default",
        "status.podIP": pod_ip,
        "status.hostIP": "127.0.0.1",
    }
    if path in simple:
        return str(simple[path] or "")
    for prefix, mapping in (
        ("metadata.labels", pod.metadata.labels),
        ("metadata.annotations", pod.metadata.annotations),
    ):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str((mapping or {}).get(path[len(prefix) + 2 : -2], ""))
    raise KeyError(f"unsupported downward-API field {path!r}")
