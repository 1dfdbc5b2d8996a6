"""TensorZero's gateway run in this process from the wheel that embeds it, for
bench/gateway_overhead.py: it starts the gateway on the config file given, writes the URL it
serves on (a port of its choosing on loopback) to the file given, and serves until SIGTERM.

    <venv with tensorzero>/bin/python bench/tensorzero_gateway.py CONFIG URL_FILE

Run by the venv bench/peers.py installs, not the project's: it imports nothing of the project.
No ClickHouse, Postgres or Valkey: observability, auth and rate limits need them. Its threads
are tokio's, `TOKIO_WORKER_THREADS` in the environment."""

from __future__ import annotations

import importlib
import signal
import sys
from pathlib import Path


def main() -> None:
    config, url_file = sys.argv[1:3]
    # Blocked before the gateway's threads start, so they inherit the mask and the signal
    # waits for sigwait below instead of ending the process mid-request.
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    tensorzero = importlib.import_module("tensorzero")
    gateway = tensorzero._start_http_gateway(
        config_file=config,
        clickhouse_url=None,
        postgres_url=None,
        valkey_url=None,
        async_setup=False,
    )
    Path(url_file).write_text(f"{gateway.base_url}\n")
    signal.sigwait(stop)
    gateway.close()


if __name__ == "__main__":
    main()
