"""Pytest fixtures: stand-in upstreams started per test (or per module) and stopped after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from harness.upstreams import gateway_process, running


@pytest.fixture
def start_upstream() -> Iterator[Callable[[str], running.Upstream]]:
    """Start stand-ins on demand: `start_upstream("openai")` or `start_upstream("anthropic")`."""
    with ExitStack() as stack:
        yield lambda flavour: stack.enter_context(running.upstream(flavour))


@pytest.fixture
def openai_upstream(start_upstream: Callable[[str], running.Upstream]) -> running.Upstream:
    return start_upstream("openai")


@pytest.fixture
def anthropic_upstream(start_upstream: Callable[[str], running.Upstream]) -> running.Upstream:
    return start_upstream("anthropic")


@pytest.fixture
def refused_port() -> int:
    """A loopback port with nothing listening: connecting to it is refused."""
    return running.free_port()


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[gateway_process.GatewayStarter]:
    """Start `runestone gateway` processes: `start_gateway(config_document)`; stopped after."""
    yield from gateway_process.starter(tmp_path)


@pytest.fixture(scope="module")
def module_gateways(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[gateway_process.GatewayStarter]:
    """Like `start_gateway`, for gateways that serve a whole test module."""
    yield from gateway_process.starter(tmp_path_factory.mktemp("gateways"))


@pytest.fixture(scope="module")
def module_upstream() -> Iterator[running.Upstream]:
    """An OpenAI stand-in serving a whole test module (reset its behaviour after changing it)."""
    with running.upstream("openai") as upstream:
        yield upstream
