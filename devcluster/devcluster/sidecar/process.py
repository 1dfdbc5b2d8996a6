"""The sidecar as a real process: `runestone sidecar ...` with the pod-bound kubeconfig and the
downward-API environment a pod would give it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devcluster import processes
from devcluster.sidecar import podenv

RUNESTONE = Path(sys.executable).with_name("runestone")


@dataclass
class SidecarProcess:
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int
    grpc_port: int
    command: list[str]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, str]:
        """GET on the sidecar's own HTTP port; (0, reason) when nothing answers."""
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()
        except OSError as error:
            return 0, str(error)

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample on /metrics (0 when absent)."""
        status, text = self.get("/metrics")
        assert status == 200, text
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            series, _, value = line.rpartition(" ")
            metric, _, label_text = series.partition("{")
            if metric != name:
                continue
            present = label_text.rstrip("}").split(",") if label_text else []
            if all(part in present for part in wanted.split(",") if part):
                total += float(value)
        return total

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.alive():
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(10)


def start_sidecar(
    pod: podenv.SidecarPod,
    workdir: Path,
    *args: str,
    kubeconfig: Path | None = None,
) -> SidecarProcess:
    port, grpc_port = processes.free_port(), processes.free_port()
    command = [
        str(RUNESTONE),
        "sidecar",
        "--condition",
        pod.condition,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--grpc-port",
        str(grpc_port),
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    env.update(
        KUBECONFIG=str(kubeconfig or pod.kubeconfig),
        POD_NAME=pod.name,
        POD_NAMESPACE=pod.namespace,
        PYTHONUNBUFFERED="1",
    )
    log_path = workdir / f"sidecar-{pod.name}-{port}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    process = SidecarProcess(popen, log_path, port, grpc_port, command)
    deadline = time.monotonic() + 60
    while process.get("/healthz")[0] != 200:
        if not process.alive() or time.monotonic() > deadline:
            with contextlib.suppress(Exception):
                process.stop(signal.SIGKILL, 5)
            raise AssertionError(f"the sidecar did not start:\n{process.log()}")
        time.sleep(0.1)
    print(f"started: {' '.join(command)}")
    return process
