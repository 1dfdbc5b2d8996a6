"""The files and vector-store API runs every request on the event loop: FastAPI runs a plain
(non-coroutine) endpoint or dependency on a worker thread, a hop and a wake-up per request that
showed as a tenth of the gateway's samples in a profile of searches."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from runestone_gateway.retrieval import endpoints


def _calls(dependant: Dependant) -> Iterator[object]:
    if dependant.call is not None:
        yield dependant.call
    for dependency in dependant.dependencies:
        yield from _calls(dependency)


def test_every_endpoint_and_dependency_is_a_coroutine_function() -> None:
    routes = [route for route in endpoints.router.routes if isinstance(route, APIRoute)]
    assert len(routes) > 20
    plain = {
        f"{route.path} {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in _calls(route.dependant)
        if not inspect.iscoroutinefunction(call)
    }
    assert not plain
