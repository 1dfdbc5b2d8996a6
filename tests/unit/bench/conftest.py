"""The benchmarks' modules import each other as top-level modules from bench/ (they run as
scripts from there), so their tests put that folder on the path the same way."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))


@pytest.fixture
def refusal() -> Callable[..., str]:
    """Runs bench/gateway_overhead.py with `arguments` (behind `prefix`, a command to run it
    under), expects it refused as a usage error (exit 2) and returns what it said."""

    def run(arguments: Sequence[str], prefix: Sequence[str] = ()) -> str:
        done = subprocess.run(
            [*prefix, sys.executable, "gateway_overhead.py", *arguments],
            cwd=BENCH,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        return done.stderr

    return run
