"""`runestone backup` says plainly why it cannot ask for a backup."""

from __future__ import annotations

from pathlib import Path

import pytest

from runestone_operator import backupcli


def test_the_namespace_is_required_outside_a_pod(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    assert backupcli.main(["--vectorcluster", "docs"]) == 2
    assert "--namespace or $POD_NAMESPACE is required" in capsys.readouterr().err


def test_no_cluster_credentials_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert backupcli.main(["--vectorcluster", "docs", "-n", "team"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("runestone backup: no access to the Kubernetes API: ")
    assert "Traceback" not in err


def test_the_vectorcluster_is_required() -> None:
    with pytest.raises(SystemExit):
        backupcli.main(["-n", "team"])
