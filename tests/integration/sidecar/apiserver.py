"""Stop and restart the local control plane's kube-apiserver, as the harness recorded it in
`.cluster/state.json`: same command line, same log, and the new PID written back so that
`harness.cluster down` still stops exactly what runs."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import time
from collections.abc import Iterator

from harness import cluster

NAME = "kube-apiserver"


@contextlib.contextmanager
def _cluster_lock() -> Iterator[None]:
    # The same lock file harness.cluster takes around up/down, so neither runs half-way
    # through a restart.
    with open(cluster.cluster_dir() / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ApiServerControl:
    def __init__(self) -> None:
        state = cluster.State.load()
        if state is None or NAME not in state.processes:
            raise RuntimeError("the local control plane is not running (no state.json)")
        self.stopped = False

    @staticmethod
    def _process() -> cluster.Process:
        state = cluster.State.load()
        assert state is not None
        return state.processes[NAME]

    def stop(self) -> float:
        """Stop kube-apiserver (SIGTERM, then SIGKILL after a grace); return when it was down."""
        process = self._process()
        self.stopped = True
        process.stop(grace=30)
        assert not process.alive()
        return time.monotonic()

    def start(self, timeout: float = 180) -> float:
        """Start it again with the recorded command line; return when the cluster is up."""
        with _cluster_lock():
            state = cluster.State.load()
            assert state is not None
            old = state.processes[NAME]
            if not old.alive():
                with open(old.log, "ab") as log:
                    popen = subprocess.Popen(
                        list(old.command),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                        cwd=cluster.cluster_dir(),
                    )
                state.processes[NAME] = cluster.Process(popen.pid, old.command, old.log)
                state.save()
        deadline = time.monotonic() + timeout
        while not cluster.is_up():
            if time.monotonic() > deadline:
                raise RuntimeError(f"kube-apiserver did not come back within {timeout}s")
            time.sleep(0.25)
        self.stopped = False
        return time.monotonic()
