"""Reading the config file and the secret files it names, and noticing when any of them changes.

Changes are detected by content hash, not modification time: Kubernetes updates ConfigMap and
Secret volumes by swapping a `..data` symlink, which a stat of the file path may not show."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pydantic
import yaml

from runestone_gateway import config
from runestone_gateway.providers import registry

_REDIS_URL = re.compile(r"^rediss?://\S+$")


class ConfigError(Exception):
    """A config that cannot be served. The message is safe to log: it never holds a secret."""


_KeyTable = config.KeyTable  # the `config` field below hides the module inside the class


@dataclass(frozen=True)
class Loaded:
    """One generation of configuration: the validated file plus the secrets it names."""

    config: config.GatewayConfig
    secrets: dict[str, str]  # secret file path -> content (API keys: stripped of whitespace)
    key_table: _KeyTable | None  # None when the config names no key table
    fingerprint: str


def load(path: Path | None) -> Loaded:
    """Read and validate everything, or raise ConfigError saying what is wrong."""
    if path is None:
        return Loaded(config.mock_config(), {}, None, fingerprint=_digest([]))
    raw = _read(path, what="config file")
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML or JSON: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the document must be a mapping")
    try:
        parsed = config.GatewayConfig.model_validate(document)
    except pydantic.ValidationError as error:
        raise ConfigError(f"{path}: {_describe(error)}") from None
    for pool in parsed.provider_pools:
        for spec in pool.providers:
            try:
                registry.check(spec)
            except registry.UnknownType as error:
                raise ConfigError(f"{path}: pool {pool.name!r}: {error}") from None
    files = parsed.secret_files()
    contents = {file: _read(Path(file), what="secret file") for file in files}
    key_table = None
    if parsed.auth.key_table_file:
        key_table = _key_table(parsed.auth.key_table_file, contents[parsed.auth.key_table_file])
    secrets = {
        file: content.decode("utf-8", "replace").strip() for file, content in contents.items()
    }
    url_file = parsed.limits.store.url_file
    if url_file and not _REDIS_URL.match(secrets[url_file]):
        # Never echo the content: the URL may hold a password.
        raise ConfigError(f"limits.store.urlFile {url_file}: not a redis:// or rediss:// URL")
    fingerprint = _digest([raw, *(contents[file] for file in files)])
    return Loaded(parsed, secrets, key_table, fingerprint)


def fingerprint(path: Path | None, secret_files: list[str]) -> str:
    """The fingerprint `load` would compute now, without validating anything."""
    if path is None:
        return _digest([])
    return _digest([_read_or_empty(path), *(_read_or_empty(Path(file)) for file in secret_files)])


def _read(path: Path, *, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror or error}") from None


def _read_or_empty(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b"\0missing"


def _digest(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _key_table(path: str, raw: bytes) -> config.KeyTable:
    try:
        return config.KeyTable.model_validate(yaml.safe_load(raw) or {})
    except (yaml.YAMLError, pydantic.ValidationError):
        # Never echo the content: it is a secret file.
        raise ConfigError(f"key table {path}: not a valid key table") from None


def _describe(error: pydantic.ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in item["loc"]) or "(document)"
        problems.append(f"{location}: {item['msg']}")
    return "; ".join(problems)
