"""Small helpers for a program that talks to a cluster: which cluster it is, whether an object is
there, waiting for a condition, and where the process kubelet keeps a container's log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException

T = TypeVar("T")


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    local: bool  # the local control plane (so a process kubelet may run its pods)
    api: client.ApiClient


def exists(read: Callable[..., Any], *args: Any) -> bool:
    """Whether the object `read(*args)` reads is there (404: no; other errors raise)."""
    try:
        read(*args)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def eventually(
    check: Callable[[], T],
    timeout: float = 30,
    interval: float = 0.2,
    what: str = "the condition",
) -> T:
    """Call `check` until it returns a truthy value without raising; return that value."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
            last_error = None
        except (ApiException, AssertionError, LookupError, OSError) as error:
            last_error = error
        if time.monotonic() >= deadline:
            detail = f": {last_error}" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


def container_log(workdir: Path, namespace: str, pod: str, container: str) -> Path:
    """The log file of a container the process kubelet runs (the newest pod of that name)."""
    candidates = sorted(
        (workdir / "pods" / namespace).glob(f"{pod}-*/{container}.log"),
        key=lambda p: p.stat().st_mtime,
    )
    if not candidates:
        raise LookupError(f"no log yet for {namespace}/{pod}[{container}]")
    return candidates[-1]


PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def image_pull_failure(pod: client.V1Pod) -> tuple[str, str] | None:
    """(image, reason) when a container of `pod` waits for an image its node cannot pull."""
    for status in (pod.status.container_statuses or []) if pod.status else []:
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in PULL_FAILURES:
            return str(status.image), str(waiting.reason)
    return None
