"""Install a folder's pinned npm packages (its package.json and package-lock.json) into the cache
outside the repository, keyed by their hash, for tests that run Node programs against them.

`npm ci` installs exactly the lockfile (integrity checked, no install scripts, every package's
`engines` enforced against this Node) from the npm registry, with npm's download cache under the
same cache root; a cold install shows progress, a warm call returns at once. Concurrent callers
wait on a file lock for the one install in flight.

    python -m devcluster.npmcache FOLDER     # install (or reuse); prints its node_modules path
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from devcluster import gobuild

NODE_MAJOR = 20
STAMP = ".complete"
INSTALL_HINT = (
    f"Node.js {NODE_MAJOR} or later with npm (Debian 13: `apt-get install nodejs npm`; on Debian "
    f"12, whose nodejs is 18, NodeSource's nodejs {NODE_MAJOR}.x package, which brings npm)"
)


class NodeMissing(RuntimeError):
    """Node.js or npm is not installed, or too old; the message names what to install."""


def node() -> str:
    """The path of a Node.js new enough for the pinned packages (raises NodeMissing)."""
    found = shutil.which("node")
    if found is None or shutil.which("npm") is None:
        missing = "node" if found is None else "npm"
        raise NodeMissing(f"`{missing}` is not on PATH: install {INSTALL_HINT}")
    version = subprocess.run(
        [found, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < NODE_MAJOR:
        raise NodeMissing(f"{found} is Node.js {version or '(unknown)'}: install {INSTALL_HINT}")
    return found


def fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def install_dir(folder: Path) -> Path:
    name = json.loads((folder / "package.json").read_text()).get("name") or folder.name
    return gobuild.cache_root() / "npm" / f"{name.replace('/', '+')}-{fingerprint(folder)}"


def ensure(folder: Path) -> Path:
    """The node_modules folder holding `folder`'s locked packages, installed if need be."""
    folder = folder.resolve()
    node()
    target = install_dir(folder)
    if (target / STAMP).exists():
        return target / "node_modules"
    with gobuild._locked(target.with_name(target.name + ".lock")):
        if not (target / STAMP).exists():
            _install(folder, target)
    return target / "node_modules"


def _install(folder: Path, target: Path) -> None:
    staging = target.with_name(target.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(folder / name, staging / name)
    command = [
        "npm",
        "ci",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--engine-strict",
        "--loglevel=http",  # a line per download: the progress shown
        f"--cache={gobuild.cache_root() / 'npm' / '_cacache'}",
    ]
    _say(f"installing the packages locked in {folder} into {target}")
    started = time.monotonic()
    # npm's lines (its stdout too) go to stderr, where make shows them and pytest keeps them.
    done = subprocess.run(command, cwd=staging, stdout=2, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"npm ci in {staging} exited with {done.returncode} (its output is above)"
        )
    _say(f"installed in {time.monotonic() - started:.0f}s")
    (staging / STAMP).write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z\n"))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


def _say(message: str) -> None:
    print(f"[npmcache] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="holds package.json and package-lock.json")
    options = parser.parse_args(argv)
    try:
        print(ensure(options.folder))
    except NodeMissing as error:
        _say(str(error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
