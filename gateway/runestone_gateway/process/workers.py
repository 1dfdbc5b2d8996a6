"""`--workers N`: N processes serving the API and health ports, supervised here.

Each worker listens on an API socket of its own (one port, SO_REUSEPORT: the kernel spreads new
connections evenly) and on the one health socket they share. Workers are spawned (not forked)
with their sockets; each runs its own event loop, config watcher and health checks. Metrics go
through prometheus_client's multiprocess files so a scrape of any worker reports the sum of all.
A worker that dies is replaced, on its predecessor's socket, which the supervisor keeps open: the
connections the kernel gave it meanwhile wait for the replacement (a few seconds) rather than
being refused. SIGTERM or SIGINT is passed on to every worker, which drain as a single process
would, and the supervisor waits for them."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from types import FrameType

from runestone_gateway.process import server, service

log = logging.getLogger("runestone.gateway")

SUPERVISE_INTERVAL = 0.2
RESTART_DELAY = 1.0  # at most one restart per second and slot, so a crash loop cannot spin


def run(
    settings: service.Settings,
    listen: server.Listen,
    api_sockets: Sequence[socket.socket],
    health_socket: socket.socket,
) -> int:
    """One worker per API socket (`server.bind_group`); a replacement gets its predecessor's, on
    which the connections that arrived in between wait for it."""
    count = len(api_sockets)
    metrics_dir = tempfile.mkdtemp(prefix="runestone-metrics-")
    # Set before any worker starts: prometheus_client picks its storage when first imported.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    settings = dataclasses.replace(settings, multiprocess_metrics=True)
    context = multiprocessing.get_context("spawn")
    level = logging.getLogger().getEffectiveLevel()

    def start(index: int) -> BaseProcess:
        sockets = (api_sockets[index], health_socket)
        process = context.Process(
            target=_worker, args=(settings, listen, sockets, level), name="runestone-gateway"
        )
        process.start()
        return process

    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    processes: list[BaseProcess] = []
    started_at: list[float] = []
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        processes.extend(start(index) for index in range(count))
        started_at.extend(time.monotonic() for _ in range(count))
        while not signals:
            time.sleep(SUPERVISE_INTERVAL)
            for index, process in enumerate(processes):
                if process.is_alive() or signals:
                    continue
                if time.monotonic() - started_at[index] < RESTART_DELAY:
                    continue
                log.error(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                _forget(process)
                processes[index] = start(index)
                started_at[index] = time.monotonic()
        deadline = time.monotonic() + listen.graceful_shutdown_seconds + 10
        for process in processes:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                log.error("worker %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _forget(process: BaseProcess) -> None:
    from prometheus_client import multiprocess

    if process.pid is not None:
        multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]


def _worker(
    settings: service.Settings,
    listen: server.Listen,
    sockets: tuple[socket.socket, socket.socket],
    level: int,
) -> None:
    # Its own process group: a terminal's Ctrl-C reaches the supervisor only, which passes on
    # one SIGTERM (two signals would mean "stop without waiting").
    os.setpgrp()
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
    )
    try:
        server.run(settings, listen, sockets)
    finally:
        _forget(multiprocessing.current_process())
