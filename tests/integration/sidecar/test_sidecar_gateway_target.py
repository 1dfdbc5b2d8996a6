"""The real gateway (`runestone gateway`, built-in mock, no config) as the target: its /readyz
turns the condition True; stopping the gateway turns it False; starting it again, True."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devcluster import processes
from devcluster.sidecar import podenv, process, recorder


class Gateway:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port, self.health_port = processes.free_port(), processes.free_port()
        self.popen: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    def start(self) -> None:
        self.runs += 1
        # stdout carries the generated API key: it goes to a private file, never to the log.
        with (
            open(self.workdir / f"gateway-{self.runs}.out", "wb") as out,
            open(self.workdir / f"gateway-{self.runs}.log", "wb") as err,
        ):
            self.popen = subprocess.Popen(
                [
                    str(process.RUNESTONE),
                    "gateway",
                    *("--host", "127.0.0.1", "--port", str(self.port)),
                    *("--health-port", str(self.health_port)),
                ],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    def stop(self) -> int:
        assert self.popen is not None
        return processes.stop(self.popen)

    def log(self) -> str:
        return (self.workdir / f"gateway-{self.runs}.log").read_text(errors="replace")


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    running = Gateway(tmp_path)
    running.start()
    yield running
    if running.popen is not None and running.popen.poll() is None:
        running.stop()
    print(f"--- gateway log:\n{running.log()}")


def test_gateway_readyz_drives_the_condition(
    gated_pod: podenv.SidecarPod,
    gateway: Gateway,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    pod = watch_pod(gated_pod)
    run_sidecar(
        gated_pod,
        *("--target", "gateway", "--url", gateway.health_url, "--period", "1"),
        *("--failure-threshold", "2"),
    )
    ready = pod.wait_for(lambda o: o.gate == "True", 120, "True once the gateway is ready")
    assert ready.message == f"GET {gateway.health_url}/readyz answered 200"
    pod.wait_for(lambda o: o.ready == "True", 60, "the pod to be Ready")

    mark = pod.count()
    assert gateway.stop() == 0
    down = pod.wait_for(lambda o: o.gate == "False", 60, "False once the gateway stopped", mark)
    print(f"gateway stopped: {down.reason}: {down.message}")
    assert down.reason in ("TargetUnreachable", "TargetNotReady")
    pod.wait_for(lambda o: o.ready == "False", 60, "the pod to leave Ready", mark)

    mark = pod.count()
    gateway.start()
    pod.wait_for(lambda o: o.gate == "True", 120, "True once the gateway is back", mark)
