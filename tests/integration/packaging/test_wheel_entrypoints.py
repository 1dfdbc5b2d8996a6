"""What the container image runs, tested without a container runtime: the wheel built from this
checkout, installed into a fresh virtualenv with the pinned constraints (as the Dockerfile
does), serves every role from the one `runestone` entry point, with PYTHONSAFEPATH=1 and the
working directory outside the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import yaml

from devcluster import chart, processes
from devcluster.kube import eventually
from runestone_operator.core.builders import pods

DOCKERFILE = chart.REPO / "Dockerfile"
CONSTRAINTS = chart.REPO / "constraints.txt"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps .`, then the wheel into a fresh venv with constraints.txt; the venv's
    bin/ folder."""
    root = tmp_path_factory.mktemp("wheel")
    wheels = root / "wheels"
    pip = ["-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [sys.executable, *pip, "wheel", "--no-deps", "--wheel-dir", str(wheels), str(chart.REPO)],
        check=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("runestone-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            *pip,
            "install",
            "--constraint",
            str(CONSTRAINTS),
            str(wheel),
        ],
        check=True,
        timeout=900,
    )
    return venv / "bin"


def _image_env(tmp_path: Path) -> dict[str, str]:
    """The environment the Dockerfile's runtime stage sets, with nothing of this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONSAFEPATH="1", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    env["HOME"] = str(tmp_path)
    return env


def _run(bin_dir: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "runestone"), *args],
        cwd=tmp_path,
        env=_image_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_every_installed_distribution_is_pinned(installed: Path) -> None:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    frozen = subprocess.run(
        [str(installed / "python"), "-m", "pip", "list", "--format=freeze", "--exclude=pip"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    unpinned = []
    for line in frozen.splitlines():
        name, _, version = line.partition("==")
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key not in ("runestone", "setuptools", "wheel") and pins.get(key) != version:
            unpinned.append(line)
    assert not unpinned, f"installed but not pinned in constraints.txt: {unpinned}"


@pytest.mark.parametrize("role", ["operator", "gateway", "sidecar", "backup"])
def test_each_role_answers_help(installed: Path, tmp_path: Path, role: str) -> None:
    done = _run(installed, tmp_path, role, "--help")
    assert done.returncode == 0, done.stderr
    assert f"usage: runestone {role}" in done.stdout


def test_installed_operator_prints_the_crds(installed: Path, tmp_path: Path) -> None:
    done = _run(installed, tmp_path, "operator", "--print-crds")
    assert done.returncode == 0, done.stderr
    printed = {d["metadata"]["name"]: d for d in yaml.safe_load_all(done.stdout) if d}
    shipped = {
        d["metadata"]["name"]: d
        for path in sorted((chart.REPO / "crds").glob("*.yaml"))
        for d in [yaml.safe_load(path.read_text())]
    }
    assert printed == shipped


@pytest.fixture
def gateway(installed: Path, tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    """`runestone gateway` with no config, from the installed wheel; (port, health port, stdout
    file). The generated key goes to a private file, never to a log."""
    port, health_port = processes.free_port(), processes.free_port()
    out = tmp_path / "gateway.out"
    with open(out, "wb") as stdout, open(tmp_path / "gateway.log", "wb") as stderr:
        process = subprocess.Popen(
            [
                *(str(installed / "runestone"), "gateway", "--host", "127.0.0.1"),
                *("--port", str(port), "--health-port", str(health_port)),
            ],
            cwd=tmp_path,
            env=_image_env(tmp_path),
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield port, health_port, out
    finally:
        processes.stop(process)
        print((tmp_path / "gateway.log").read_text(errors="replace")[-3000:])


def test_installed_gateway_starts_without_config(gateway: tuple[int, int, Path]) -> None:
    port, health_port, out = gateway

    def livez() -> bool:
        url = f"http://127.0.0.1:{health_port}/livez"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)

    eventually(livez, timeout=120, what="the installed gateway's /livez")
    printed = eventually(
        lambda: re.search(r"API key \(printed once[^:]*\): (\S+)", out.read_text()),
        what="the generated key",
    )
    assert printed is not None
    key = printed.group(1)
    sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
    reply = sdk.chat.completions.create(
        model=sdk.models.list().data[0].id, messages=[{"role": "user", "content": "ping"}]
    )
    assert reply.choices[0].message.content


def test_dockerfile_runs_the_wheel_as_the_pods_user() -> None:
    """The image's contract with the pod specs the operator renders and the chart: the runtime
    user is the non-root uid/gid those run as, and PYTHONSAFEPATH is on."""
    text = DOCKERFILE.read_text()
    runtime = text[text.rindex("\nFROM ") :]
    assert re.search(rf"^USER {pods.RUN_AS}:{pods.RUN_AS}$", runtime, re.MULTILINE)
    assert re.search(r"^ENV PYTHONSAFEPATH=1\b", runtime, re.MULTILINE)
    assert 'ENTRYPOINT ["runestone"]' in runtime
    assert "--constraint constraints.txt" in text
