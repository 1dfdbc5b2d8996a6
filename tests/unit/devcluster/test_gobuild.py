"""The Go build wrapper turns a module's staging replaces into pinned releases."""

from __future__ import annotations

from pathlib import Path

import pytest

from devcluster import gobuild, versions


def test_staging_replaces_become_pinned_releases(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text(
        "module k8s.io/kubernetes\n\nreplace (\n"
        "\tk8s.io/api => ./staging/src/k8s.io/api\n"
        "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n"
        "\tgithub.com/other/thing => github.com/fork/thing v1.2.3\n"
        ")\n"
    )
    assert gobuild._staging_replaces(tmp_path, "v0.36.3") == [
        "\tk8s.io/api => k8s.io/api v0.36.3",
        "\tk8s.io/client-go => k8s.io/client-go v0.36.3",
    ]


def test_a_build_is_cached_per_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNESTONE_CACHE", str(tmp_path))
    program = versions.KWOK
    assert not gobuild.is_built(program)
    bin_dir = gobuild.program_dir(program) / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "kwok").write_text("")
    assert not gobuild.is_built(program), "a build without its completion stamp is not reused"
    (gobuild.program_dir(program) / gobuild.STAMP).write_text(program.version)
    assert gobuild.is_built(program)
    assert str(program.version) in str(gobuild.program_dir(program))


def test_make_tools_builds_every_pinned_program() -> None:
    """`make tools` (gobuild with no names) builds `PROGRAMS`: each pinned program is in it, the
    S3 store of the backup tests included."""
    pinned = {
        value.name for value in vars(versions).values() if isinstance(value, versions.GoProgram)
    }
    assert pinned == set(versions.PROGRAMS)
    assert versions.PROGRAMS["versitygw"].binaries == {
        "versitygw": "github.com/versity/versitygw/cmd/versitygw"
    }
