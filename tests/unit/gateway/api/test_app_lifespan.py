"""The API app's lifespan: start-up loads the config, then freezes what start-up built out of the
garbage collector's full passes; shutdown stops the gateway."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from runestone_gateway.api import app
from runestone_gateway.process import service


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_start_up_freezes_what_it_built_and_shutdown_stops(unfrozen: None) -> None:
    gateway = service.Gateway(service.Settings())
    api = app.GatewayApp(gateway)
    inbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()

    assert gc.get_freeze_count() == 0
    running = asyncio.create_task(api({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert await asyncio.wait_for(outbox.get(), 10) == {"type": "lifespan.startup.complete"}
    assert gc.get_freeze_count() > 0, "start-up's objects are left to the full collections"
    assert gateway.started

    await inbox.put({"type": "lifespan.shutdown"})
    assert await asyncio.wait_for(outbox.get(), 10) == {"type": "lifespan.shutdown.complete"}
    await asyncio.wait_for(running, 10)
