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
    label = target.name
    log = staging / "npm-install.log"
    command = [
        "npm",
        "ci",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--engine-strict",
        "--loglevel=http",
        f"--cache={gobuild.cache_root() / 'npm' / '_cacache'}",
    ]
    _say(f"{label}: installing the locked packages into {target}")
    _run_with_progress(command, staging, label, log)
    (staging / STAMP).write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z\n"))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


def _run_with_progress(command: list[str], workdir: Path, label: str, log: Path) -> None:
    """Run npm, turning its line per download into a periodic progress line."""
    started = last_report = time.monotonic()
    fetched = 0
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            log_file.write(line)
            if " fetch " in line:
                fetched += 1
            now = time.monotonic()
            if now - last_report >= 5:
                last_report = now
                _say(f"{label}: {fetched} downloads in {now - started:.0f}s")
        code = process.wait()
    if code != 0:
        tail = log.read_text().splitlines()[-30:]
        raise RuntimeError(f"{label}: npm ci exited with {code}; see {log}\n" + "\n".join(tail))
    summary = next(
        (line.strip() for line in reversed(log.read_text().splitlines()) if "added" in line), ""
    )
    _say(f"{label}: done in {time.monotonic() - started:.0f}s ({summary or 'nothing added'})")


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
