"""The liveness endpoint reports recent activity, and fails once no watch event, resync pass or
leader-election round happened for too long (here: an operator whose API server cannot be
reached)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from devcluster import operator_process
from devcluster.kube import eventually


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def test_a_working_operator_is_live(operator: operator_process.OperatorProcess) -> None:
    # The endpoint answers from the start; the first resync pass follows once the lease is held.
    report = operator.wait_for_resync_passes(1)
    assert report["leading"] is True
    assert report["secondsSinceActivity"] < 60
    assert _status(operator.liveness_url) == 200


def test_liveness_fails_when_nothing_happens(tmp_path: Path) -> None:
    dead = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "dead",
                "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True},
            }
        ],
        "users": [{"name": "nobody", "user": {"token": "unused"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "nobody"}}],
        "current-context": "dead",
    }
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(dead))
    process = operator_process.OperatorProcess(
        kubeconfig, tmp_path / "operator.log", resync_seconds=1
    )
    process.extra_args = ["--liveness-max-age-seconds", "4"]
    try:
        process.start()  # liveness answers 200 at first: the heartbeat starts fresh
        eventually(
            lambda: _status(process.liveness_url) == 500,
            timeout=60,
            interval=1,
            what="liveness to fail",
        )
        assert "no watch event, resync pass or leader-election round" in process.log_text()
    except AssertionError:
        pytest.fail(f"operator log:\n{process.log_tail(80)}")
    finally:
        process.stop()
