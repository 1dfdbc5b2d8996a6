"""Stop and restart the local control plane's kube-apiserver, as `cluster up` recorded it in
`.cluster/state.json`: same command line, same log, and the new PID written back so that
`devcluster.cluster down` still stops exactly what runs."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

from kubernetes import client

from devcluster import cluster, layout
from devcluster.kube import eventually

NAME = "kube-apiserver"


@contextlib.contextmanager
def _cluster_lock() -> Iterator[None]:
    # The same lock file devcluster.cluster takes around up/down, so neither runs half-way
    # through a restart.
    with open(layout.cluster_dir() / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ApiServerControl:
    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        state = cluster.State.load()
        if state is None or NAME not in state.processes:
            raise RuntimeError("the local control plane is not running (no state.json)")
        self.stopped = False
        self.frozen = False
        self.relaunched_at = 0.0

    def freeze(self) -> float:
        """SIGSTOP: the process stays, its connections hang (no refusal, no reset)."""
        process = self._process()
        assert process.alive()
        self.frozen = True
        os.kill(process.pid, signal.SIGSTOP)
        return time.monotonic()

    def thaw(self) -> float:
        process = self._process()
        os.kill(process.pid, signal.SIGCONT)
        self.frozen = False
        return time.monotonic()

    def settle(self, timeout: float = 180) -> None:
        """After a thaw: wait until the controllers work again, as after a restart."""
        self.wait_for_controllers(timeout)

    def restore(self) -> None:
        """Whatever a test did, leave kube-apiserver running."""
        if self.frozen:
            self.thaw()
        if self.stopped or not self._process().alive():
            self.start()

    @staticmethod
    def _process() -> cluster.Process:
        state = cluster.State.load()
        assert state is not None
        return state.processes[NAME]

    def stop(self) -> float:
        """Stop kube-apiserver (SIGTERM, SIGKILL after 10 s); return when it is gone."""
        process = self._process()
        self.stopped = True
        process.stop(grace=10)
        deadline = time.monotonic() + 30  # after a SIGKILL, the kernel still has to reap it
        while process.alive():
            assert time.monotonic() < deadline, "kube-apiserver survived SIGKILL"
            time.sleep(0.1)
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
                        cwd=layout.cluster_dir(),
                    )
                state.processes[NAME] = cluster.Process(popen.pid, old.command, old.log)
                state.save()
                self.relaunched_at = time.monotonic()
        deadline = time.monotonic() + timeout
        while not cluster.is_up():
            if time.monotonic() > deadline:
                raise RuntimeError(f"kube-apiserver did not come back within {timeout}s")
            time.sleep(0.25)
        self.stopped = False
        back = time.monotonic()
        self.wait_for_controllers(deadline - time.monotonic())
        return back

    def wait_for_controllers(self, timeout: float) -> None:
        """The API server answering is not the control plane working: controllers reconnect
        with their own backoff. Later tests need a new namespace's default ServiceAccount, so
        wait until the controller-manager makes one again."""
        core = client.CoreV1Api(self._api)
        name = f"sidecar-restart-check-{uuid.uuid4().hex[:6]}"
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        try:
            eventually(
                lambda: core.read_namespaced_service_account("default", name),
                timeout=max(timeout, 30),
                what="the controller-manager to serve a new namespace again",
            )
        finally:
            core.delete_namespace(name)
