"""The last step of readiness propagation: a Service selecting a pod, and a watch on its
EndpointSlices that keeps, with the (monotonic) time each change arrived, whether the pod's
endpoint was ready, as the API server's EndpointSlice controller wrote it."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from typing import Any

from kubernetes import client, watch

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def create_service(
    api: client.ApiClient, namespace: str, name: str, selector: dict[str, str]
) -> None:
    client.CoreV1Api(api).create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1ServiceSpec(
                selector=selector, ports=[client.V1ServicePort(port=8080, target_port=8080)]
            ),
        ),
    )


@dataclass(frozen=True)
class Change:
    at: float  # time.monotonic() when the watch event arrived
    ready: bool | None  # the pod's endpoint: ready, not ready, or absent


class EndpointRecorder:
    """Watches the EndpointSlices of one Service for one pod's endpoint."""

    def __init__(self, api: client.ApiClient, namespace: str, service: str, pod: str) -> None:
        configuration = copy.copy(api.configuration)
        configuration.retries = False
        self._api = client.ApiClient(configuration)
        self._discovery = client.DiscoveryV1Api(self._api)
        self._namespace, self._service, self._pod = namespace, service, pod
        self._slices: dict[str, bool | None] = {}
        self.changes: list[Change] = []
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="endpoint-recorder")
        self._thread.start()

    def _state(self) -> bool | None:
        states = [state for state in self._slices.values() if state is not None]
        return any(states) if states else None

    def _record(self, event_type: str, item: Any) -> None:
        name = item.metadata.name
        if event_type == "DELETED":
            self._slices.pop(name, None)
        else:
            found: bool | None = None
            for endpoint in item.endpoints or []:
                ref = endpoint.target_ref
                if ref is not None and ref.name == self._pod:
                    found = bool(endpoint.conditions and endpoint.conditions.ready)
            self._slices[name] = found
        state = self._state()
        with self._lock:
            if not self.changes or self.changes[-1].ready != state:
                self.changes.append(Change(time.monotonic(), state))
                self._lock.notify_all()

    def _run(self) -> None:
        selector = f"{SERVICE_NAME_LABEL}={self._service}"
        list_slices = self._discovery.list_namespaced_endpoint_slice
        while not self._stop.is_set():
            try:
                listing = list_slices(self._namespace, label_selector=selector)
                for item in listing.items:
                    self._record("ADDED", item)
                for event in watch.Watch().stream(
                    list_slices,
                    self._namespace,
                    label_selector=selector,
                    resource_version=listing.metadata.resource_version,
                    timeout_seconds=5,
                    _request_timeout=10,
                ):
                    self._record(event["type"], event["object"])
                    if self._stop.is_set():
                        break
            except Exception:  # the API server may be away: try again shortly
                self._stop.wait(0.5)

    def first_after(self, since: float, ready: bool, timeout: float) -> float:
        """When the endpoint was first seen `ready` (or not) after `since`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for change in self.changes:
                    # An endpoint gone from the slice counts as not ready.
                    if change.at >= since and (change.ready is True) is ready:
                        return change.at
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the endpoint never turned ready={ready}")
                self._lock.wait(remaining)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)
        self._api.close()
