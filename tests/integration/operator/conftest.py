"""Fixtures for the operator's integration tests: the session's operator (tests/integration/
conftest.py) is checked before each test."""

from __future__ import annotations

import pytest

from devcluster import operator_process


@pytest.fixture(autouse=True)
def _operator_running(operator: operator_process.OperatorProcess) -> None:
    """Every test here runs with the operator up; a crashed operator fails the test."""
    assert operator.alive(), f"the operator is not running:\n{operator.log_tail(80)}"
