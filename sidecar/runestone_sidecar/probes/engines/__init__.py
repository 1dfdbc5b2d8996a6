"""Member probes of the VectorCluster engines, keyed by engine name (`--target member --engine
NAME`): each module of this package is one engine, named after it, with a `probe(settings)` that
builds its `base.Probe`. A new engine's probe is one new module here; nothing else changes."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from runestone_sidecar import settings
from runestone_sidecar.probes import base


def names() -> list[str]:
    """Every engine with a probe here."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def build(config: settings.Settings) -> base.Probe:
    """The member probe of `config.engine`; SettingsError when no module probes that engine."""
    known = names()
    if config.engine not in known:
        raise settings.SettingsError(
            f"--engine {config.engine!r}: no member probe for it (known: {', '.join(known)})"
        )
    module = importlib.import_module(f"{__name__}.{config.engine}")
    probe: Callable[[settings.Settings], base.Probe] = module.probe
    return probe(config)
