"""The npm package cache: keyed by the lockfile, reused when installed, and a missing or old
Node.js refused with what to install."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devcluster import npmcache

HARNESS = Path(__file__).resolve().parents[2] / "clients" / "js"


def package(folder: Path, lock: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text('{"name": "@scope/bench", "private": true}')
    (folder / "package-lock.json").write_text(lock)
    return folder


def test_the_install_is_keyed_by_the_lockfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNESTONE_CACHE", str(tmp_path / "cache"))
    first = npmcache.install_dir(package(tmp_path / "a", '{"lockfileVersion": 3}'))
    same = npmcache.install_dir(package(tmp_path / "b", '{"lockfileVersion": 3}'))
    changed = npmcache.install_dir(package(tmp_path / "c", '{"lockfileVersion": 3, "x": 1}'))
    assert first == same
    assert first != changed
    assert first.parent == tmp_path / "cache" / "npm"
    assert first.name.startswith("@scope+bench-")


def test_a_complete_install_is_reused_without_npm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNESTONE_CACHE", str(tmp_path / "cache"))
    folder = package(tmp_path / "pkg", "{}")
    target = npmcache.install_dir(folder)
    (target / "node_modules").mkdir(parents=True)
    (target / npmcache.STAMP).write_text("done\n")
    monkeypatch.setattr(npmcache, "_install", lambda *args: pytest.fail("installed again"))
    assert npmcache.ensure(folder) == target / "node_modules"


def test_no_node_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(npmcache.NodeMissing, match=r"`node` is not on PATH: install Node.js 20"):
        npmcache.node()


def test_an_old_node_names_its_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, script in (("node", "echo v18.19.0"), ("npm", "echo 10.0.0")):
        program = tmp_path / name
        program.write_text(f"#!/bin/sh\n{script}\n")
        program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(npmcache.NodeMissing, match=r"is Node.js v18.19.0: install Node.js 20"):
        npmcache.node()


def test_the_harness_pins_exact_versions_for_node_20() -> None:
    """Ranges would let a fresh install differ from the lockfile's review; engines are checked
    against this Node by `npm ci --engine-strict`."""
    manifest = json.loads((HARNESS / "package.json").read_text())
    lock = json.loads((HARNESS / "package-lock.json").read_text())
    assert manifest["engines"] == {"node": ">=20"}
    for name, version in manifest["dependencies"].items():
        assert version[0].isdigit(), f"{name} is pinned to a range: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
