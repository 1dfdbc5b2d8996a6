"""Report the desired condition into this pod, as the readiness-gate contract says
(docs/architecture.md).

Each write is a fresh read, then a one-condition strategic-merge patch carrying the read's
resourceVersion, retried on conflict. Nothing is written when the pod already says the right
thing. While the API server is away the reporter backs off (exponential, jittered, capped) and the
probes carry on; when it is back the latest verdict, not a stale one, is written. A slow resync
re-reads the pod and repairs a condition someone else changed, without moving lastTransitionTime.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from runestone_sidecar import backoff, conditions, kubeapi, metrics

log = logging.getLogger("runestone.sidecar")

MAX_CONFLICT_RETRIES = 5


class PodStatus(Protocol):
    async def read(self) -> dict[str, Any]: ...

    async def patch(self, body: dict[str, Any]) -> dict[str, Any]: ...


class Reporter:
    def __init__(
        self,
        api: PodStatus,
        condition_type: str,
        initial: conditions.Desired,
        sidecar_metrics: metrics.Metrics,
        retry: backoff.Backoff,
        resync_period: float,
        now: Callable[[], str] = conditions.now_rfc3339,
    ) -> None:
        self._api = api
        self._type = condition_type
        self._desired = initial
        self._reported: conditions.Desired | None = None
        self._metrics = sidecar_metrics
        self._retry = retry
        self._resync_period = resync_period
        self._now = now
        self._changed = asyncio.Event()
        self._changed.set()
        self._last_sync = -float("inf")
        self._failures = 0

    @property
    def desired(self) -> conditions.Desired:
        return self._desired

    @property
    def in_sync(self) -> bool:
        return self._reported == self._desired

    def want(self, desired: conditions.Desired) -> None:
        if desired != self._desired:
            self._desired = desired
            self._changed.set()
            self._metrics.condition_in_sync.set(float(self.in_sync), self._type)

    async def run(self) -> None:
        """Keep the pod's condition equal to the desired one until cancelled."""
        while True:
            if self.in_sync:
                remaining = self._last_sync + self._resync_period - time.monotonic()
                if remaining > 0:
                    try:
                        async with asyncio.timeout(remaining):
                            await self._changed.wait()
                    except TimeoutError:
                        pass
            self._changed.clear()
            try:
                await self.sync_once()
            except kubeapi.ApiError as error:
                await self._back_off(error.message)
            except Exception as error:  # a surprise in the pod's JSON must not end the sidecar
                log.exception("unexpected error while reporting %s", self._type)
                self._metrics.patch_errors.inc(self._type, kubeapi.OTHER)
                await self._back_off(f"{type(error).__name__}: {error}")

    async def _back_off(self, reason: str) -> None:
        self._failures += 1
        delay = self._retry.delay(self._failures)
        log.warning(
            "cannot report %s (attempt %d, retrying in %.1fs): %s",
            self._type,
            self._failures,
            delay,
            reason,
        )
        await asyncio.sleep(delay)

    async def finish(self, final: conditions.Desired, deadline: float) -> bool:
        """Write `final` before the process exits, retrying until `deadline` (monotonic)."""
        self.want(final)
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    await self.sync_once()
                return True
            except (kubeapi.ApiError, TimeoutError) as error:
                attempt += 1
                delay = self._retry.delay(attempt)
                if time.monotonic() + delay >= deadline:
                    log.error("could not report %s before exiting: %s", self._type, error)
                    return False
                await asyncio.sleep(delay)

    async def sync_once(self) -> None:
        """One fresh read and, if the pod says something else, one patch; raises ApiError."""
        for _ in range(MAX_CONFLICT_RETRIES):
            desired = self._desired
            try:
                pod = await self._api.read()
            except kubeapi.ApiError as error:
                self._metrics.patch_errors.inc(self._type, error.kind)
                raise
            existing = conditions.find(pod, self._type)
            patch = conditions.plan_patch(pod, self._type, desired, self._now())
            if patch is not None:
                try:
                    await self._api.patch(patch)
                except kubeapi.ApiError as error:
                    self._metrics.patch_errors.inc(self._type, error.kind)
                    if error.kind == kubeapi.CONFLICT:
                        continue  # the pod changed since the read: read again, decide again
                    raise
                self._record_patch(existing, desired)
            self._reported = desired
            self._last_sync = time.monotonic()
            self._failures = 0
            self._metrics.condition_status.set(float(desired.ready), self._type)
            self._metrics.condition_in_sync.set(float(self.in_sync), self._type)
            return
        raise kubeapi.ApiError(409, f"gave up after {MAX_CONFLICT_RETRIES} conflicting writes")

    def _record_patch(self, existing: Any, desired: conditions.Desired) -> None:
        self._metrics.patches.inc(self._type)
        before = existing.get("status") if existing is not None else None
        if before != desired.status:
            self._metrics.transitions.inc(self._type)
            log.info(
                "%s is now %s (%s): %s", self._type, desired.status, desired.reason, desired.message
            )
        else:
            log.info("%s stays %s, now %s: %s", self._type, before, desired.reason, desired.message)
