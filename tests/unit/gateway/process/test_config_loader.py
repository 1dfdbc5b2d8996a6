"""Loading the config file and its secret files, and fingerprints that change with any of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from runestone_gateway import apikeys
from runestone_gateway.process import loader


def write(tmp_path: Path, *, key_file: Path, table: Path | None = None) -> Path:
    data = {
        "auth": {"keyTableFile": str(table)} if table else {},
        "providerPools": [
            {
                "name": "p",
                "providers": [
                    {
                        "name": "up",
                        "type": "openai",
                        "baseURL": "http://127.0.0.1:1/v1",
                        "apiKeyFile": str(key_file),
                        "models": [{"name": "m"}],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_loads_yaml_and_secret_files(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-secret\n")
    key = apikeys.generate()
    table = tmp_path / "keys.yaml"
    table.write_text(yaml.safe_dump({"keys": [{"id": "a", "sha256": apikeys.digest(key)}]}))
    loaded = loader.load(write(tmp_path, key_file=key_file, table=table))
    assert loaded.secrets[str(key_file)] == "sk-secret"
    assert loaded.key_table is not None
    assert [entry.sha256 for entry in loaded.key_table.keys] == [apikeys.digest(key)]


def test_json_is_accepted_too(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    mock = {"name": "m", "type": "mock", "models": [{"name": "x"}]}
    path.write_text(json.dumps({"providerPools": [{"name": "p", "providers": [mock]}]}))
    assert loader.load(path).config.provider_pools[0].name == "p"


def test_fingerprint_follows_config_and_secret_contents(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("one")
    path = write(tmp_path, key_file=key_file)
    loaded = loader.load(path)
    files = loaded.config.secret_files()
    assert loader.fingerprint(path, files) == loaded.fingerprint
    key_file.write_text("two")
    changed = loader.fingerprint(path, files)
    assert changed != loaded.fingerprint
    assert loader.load(path).fingerprint == changed
    path.write_text(path.read_text() + "\n# a comment\n")
    assert loader.fingerprint(path, files) != changed


def test_errors_say_what_is_wrong_and_never_echo_secrets(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-secret")
    table = tmp_path / "keys.yaml"
    table.write_text("sk-secret-table-content: [")
    with pytest.raises(loader.ConfigError) as raised:
        loader.load(write(tmp_path, key_file=key_file, table=table))
    assert "key table" in str(raised.value)
    assert "sk-secret" not in str(raised.value)

    with pytest.raises(loader.ConfigError, match="cannot read secret file"):
        loader.load(write(tmp_path, key_file=tmp_path / "missing"))
    with pytest.raises(loader.ConfigError, match="cannot read config file"):
        loader.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("providerPools: [{name: p, providers: []}]")
    with pytest.raises(loader.ConfigError, match=r"providerPools\.0\.providers"):
        loader.load(bad)


def test_no_path_means_the_mock(tmp_path: Path) -> None:
    loaded = loader.load(None)
    assert loaded.config.provider_pools[0].providers[0].type == "mock"
    assert loaded.key_table is None


def test_a_redis_url_file_must_hold_a_redis_url(tmp_path: Path) -> None:
    url_file = tmp_path / "redis-url"
    path = tmp_path / "gateway.yaml"
    mock = {"name": "m", "type": "mock", "models": [{"name": "x"}]}
    store = {"type": "redis", "urlFile": str(url_file)}
    path.write_text(
        yaml.safe_dump(
            {"limits": {"store": store}, "providerPools": [{"name": "p", "providers": [mock]}]}
        )
    )
    url_file.write_text("redis://:hunter2@redis.infra:6379/0\n")
    assert loader.load(path).secrets[str(url_file)] == "redis://:hunter2@redis.infra:6379/0"
    url_file.write_text("hunter2")
    with pytest.raises(loader.ConfigError, match="not a redis") as raised:
        loader.load(path)
    assert "hunter2" not in str(raised.value)
