"""Watch one pod and keep every change of its gate condition and of its Ready condition, with
the (monotonic) time each change arrived: what tests count transitions and measure latency on."""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client, watch

from devcluster.sidecar import podenv


@dataclass(frozen=True)
class Observation:
    at: float  # time.monotonic() when the watch event arrived
    gate: str | None  # the gate condition's status, None while absent
    reason: str | None
    message: str | None
    transition: str | None  # the gate condition's lastTransitionTime
    ready: str | None  # the pod's Ready condition status


class PodRecorder:
    def __init__(self, api: client.ApiClient, pod: podenv.SidecarPod) -> None:
        # Its own client, without urllib3's retries: while the API server is away the loop
        # below retries by itself, quietly.
        configuration = copy.copy(api.configuration)
        configuration.retries = False
        self._api = client.ApiClient(configuration)
        self._core = client.CoreV1Api(self._api)
        self._pod = pod
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.observations: list[Observation] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="pod-recorder")
        self._thread.start()

    def _record(self, raw: Any) -> None:
        gate = podenv.condition_of(raw, self._pod.condition)
        observation = Observation(
            at=time.monotonic(),
            gate=None if gate is None else gate.status,
            reason=None if gate is None else gate.reason,
            message=None if gate is None else gate.message,
            transition=None
            if gate is None or gate.last_transition_time is None
            else gate.last_transition_time.isoformat(),
            ready=podenv.status_of(raw, "Ready"),
        )
        with self._changed:
            last = self.observations[-1] if self.observations else None
            if last is None or (
                (last.gate, last.reason, last.message, last.transition, last.ready)
                != (
                    observation.gate,
                    observation.reason,
                    observation.message,
                    observation.transition,
                    observation.ready,
                )
            ):
                self.observations.append(observation)
                self._changed.notify_all()

    def _run(self) -> None:
        selector = f"metadata.name={self._pod.name}"
        while not self._stop.is_set():
            try:
                pods = self._core.list_namespaced_pod(self._pod.namespace, field_selector=selector)
                for item in pods.items:
                    self._record(item)
                stream = watch.Watch().stream(
                    self._core.list_namespaced_pod,
                    self._pod.namespace,
                    field_selector=selector,
                    resource_version=pods.metadata.resource_version,
                    timeout_seconds=5,
                    _request_timeout=10,
                )
                for event in stream:
                    self._record(event["object"])
                    if self._stop.is_set():
                        break
            except Exception:  # the API server may be away: try again shortly
                self._stop.wait(0.5)

    def wait_for(
        self, check: Callable[[Observation], bool], timeout: float, what: str, since: int = 0
    ) -> Observation:
        """The first observation from index `since` on that satisfies `check`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for observation in self.observations[since:]:
                    if check(observation):
                        return observation
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(o.gate, o.reason, o.ready) for o in self.observations[since:]]
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {what}; saw {seen}"
                    )
                self._changed.wait(remaining)

    def count(self) -> int:
        with self._lock:
            return len(self.observations)

    def gate_transitions(self, since: int = 0) -> int:
        """How many times the gate's status changed after observation `since - 1`."""
        with self._lock:
            statuses = [o.gate for o in self.observations[max(0, since - 1) :]]
        return sum(1 for a, b in itertools.pairwise(statuses) if a != b)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)
        self._api.close()
