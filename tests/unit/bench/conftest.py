"""The benchmarks' modules import each other as top-level modules from bench/ (they run as
scripts from there), so their tests put that folder on the path the same way."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
