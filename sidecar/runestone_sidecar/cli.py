"""`runestone sidecar ...`: parse options, wire the pieces, run until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from runestone_sidecar import kubeapi, kubeconfig, runner, settings
from runestone_sidecar.probes import factory


def main(argv: Sequence[str]) -> int:
    try:
        config, level = settings.parse(argv, os.environ)
        probe = factory.build(config)
        access = kubeconfig.load()
    except (settings.SettingsError, kubeconfig.ConfigError) as error:
        print(f"runestone sidecar: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("runestone.sidecar").info("API access from %s", access.source)
    api = kubeapi.PodStatusApi(access, config.namespace, config.pod_name)
    return asyncio.run(_serve(runner.Sidecar(config, probe, api)))


async def _serve(sidecar: runner.Sidecar) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await sidecar.run(stop)
    except OSError as error:  # a port already taken, typically
        print(f"runestone sidecar: {error}", file=sys.stderr)
        return 2
