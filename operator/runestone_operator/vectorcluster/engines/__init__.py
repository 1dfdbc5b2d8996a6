"""The engines a VectorCluster can run, one folder each, chosen by `spec.engine` (`get`). Each
folder's package exposes `ENGINE`, an `engine.Engine`; adding an engine is adding a folder and
its line in `REGISTRY` (and its name in `model.Engine`, which the CRD offers)."""

from __future__ import annotations

from collections.abc import Mapping

from runestone_operator.vectorcluster import engine
from runestone_operator.vectorcluster.engines import weaviate

REGISTRY: Mapping[str, engine.Engine] = {weaviate.ENGINE.name: weaviate.ENGINE}


class UnknownEngine(LookupError):
    """`spec.engine` names no registered engine."""


def get(name: str, registry: Mapping[str, engine.Engine] = REGISTRY) -> engine.Engine:
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry)) or "none"
        raise UnknownEngine(f"no engine {name!r} (known: {known})") from None
