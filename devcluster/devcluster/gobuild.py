"""Build pinned Go programs from their modules, cached by version outside the repository.

A cold build of the control plane takes many minutes on two cores, so it shows progress; a warm
call returns in well under a second. Concurrent callers (make, pytest workers, the demo) wait on a
file lock for the one build in flight instead of starting their own.

    python -m devcluster.gobuild [NAME ...]     # build (or reuse) the named programs, default all
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from devcluster import versions
from devcluster.versions import GoProgram

STAMP = ".complete"


def cache_root() -> Path:
    base = os.environ.get("RUNESTONE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "runestone"
    )
    return Path(base)


def program_dir(program: GoProgram) -> Path:
    return cache_root() / "go" / program.key


def binary(program: GoProgram, name: str) -> Path:
    return program_dir(program) / "bin" / name


def is_built(program: GoProgram) -> bool:
    return (program_dir(program) / STAMP).exists() and all(
        binary(program, name).exists() for name in program.binaries
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(f"waiting for another build holding {path} ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _say(message: str) -> None:
    print(f"[gobuild] {message}", file=sys.stderr, flush=True)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GOTOOLCHAIN="local", CGO_ENABLED="0", GOFLAGS="-mod=mod", GOWORK="off")
    return env


def _module_dir(module: str, version: str, workdir: Path) -> Path:
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        cwd=workdir,
        env=_go_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(json.loads(out.stdout)["Dir"])


def _staging_replaces(module_dir: Path, staging_version: str) -> list[str]:
    """Turn `k8s.io/x => ./staging/src/k8s.io/x` into `k8s.io/x => k8s.io/x <release>`."""
    pattern = re.compile(r"^\s*(\S+)\s+=>\s+\./staging/\S+\s*$")
    replaces = []
    for line in (module_dir / "go.mod").read_text().splitlines():
        match = pattern.match(line)
        if match:
            replaces.append(f"\t{match.group(1)} => {match.group(1)} {staging_version}")
    return replaces


def _write_wrapper_module(program: GoProgram, workdir: Path) -> None:
    lines = ["module runestone.dev/build/" + program.name, "", "go 1.26", ""]
    lines.append(f"require {program.module} {program.version}")
    for module, version in program.extra_requires.items():
        lines.append(f"require {module} {version}")
    if program.staging_version:
        (workdir / "go.mod").write_text("\n".join(lines) + "\n")
        replaces = _staging_replaces(
            _module_dir(program.module, program.version, workdir), program.staging_version
        )
        lines += ["", "replace (", *replaces, ")"]
    (workdir / "go.mod").write_text("\n".join(lines) + "\n")


def _run_with_progress(command: Sequence[str], workdir: Path, label: str, log: Path) -> None:
    """Run `go build -v`, turning its package-per-line output into a periodic progress line."""
    started = time.monotonic()
    compiled = 0
    last_report = started
    with open(log, "a") as log_file:
        log_file.write(f"$ {' '.join(command)}\n")
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=_go_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            log_file.write(line)
            compiled += 1
            now = time.monotonic()
            if now - last_report >= 15:
                last_report = now
                _say(
                    f"{label}: {compiled} packages in {now - started:.0f}s "
                    f"(latest: {line.strip()[:70]})"
                )
        code = process.wait()
    if code != 0:
        tail = log.read_text().splitlines()[-30:]
        raise RuntimeError(f"{label}: go exited with {code}; see {log}\n" + "\n".join(tail))
    _say(f"{label}: done in {time.monotonic() - started:.0f}s")


def build(program: GoProgram) -> Path:
    """Build `program` unless a complete build of this exact version is cached; return its bin/."""
    root = program_dir(program)
    if is_built(program):
        return root / "bin"
    if shutil.which("go") is None:
        raise RuntimeError("the Go toolchain is needed to build the control plane; install Go 1.26")
    with _locked(cache_root() / "go" / f"{program.key}.lock"):
        if is_built(program):
            return root / "bin"
        _say(f"building {program.module}@{program.version} into {root} (cold builds are slow)")
        root.mkdir(parents=True, exist_ok=True)
        log = root / "build.log"
        log.write_text("")
        if program.source:
            # A module of this repository, built where it is, its go.sum as committed.
            workdir, pin = versions.REPOSITORY / program.source, ["-mod=readonly"]
        else:
            workdir, pin = root, []
            _write_wrapper_module(program, root)
            packages = [f"{package}@{program.version}" for package in program.binaries.values()]
            _run_with_progress(["go", "get", *packages], root, f"{program.name} resolve", log)
        staging = root / "bin.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name, package in program.binaries.items():
            stamps = "".join(f" -X {var}={value}" for var, value in program.stamps.items())
            command = ["go", "build", "-v", "-trimpath", *pin, f"-ldflags=-s -w{stamps}"]
            command += ["-o", str(staging / name), package]
            _run_with_progress(command, workdir, f"{program.name}/{name}", log)
        shutil.rmtree(root / "bin", ignore_errors=True)
        staging.rename(root / "bin")
        (root / STAMP).write_text(program.version + "\n")
    return root / "bin"


def ensure(names: Sequence[str] | None = None) -> dict[str, Path]:
    """Build or reuse each named program; return binary name -> path."""
    selected = (
        [versions.PROGRAMS[name] for name in names] if names else list(versions.PROGRAMS.values())
    )
    paths: dict[str, Path] = {}
    for program in selected:
        bin_dir = build(program)
        paths.update({name: bin_dir / name for name in program.binaries})
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", choices=[[], *versions.PROGRAMS], metavar="NAME")
    args = parser.parse_args(argv)
    started = time.monotonic()
    for name, path in ensure(args.names or None).items():
        _say(f"{name}: {path}")
    _say(f"ready in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
