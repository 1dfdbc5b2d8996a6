"""Leader election on a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does it:
of several operator processes only the one holding the Lease reconciles.

- A candidate takes the Lease when it does not exist, when its holder released it (no holder), or
  when the holder's record has not changed for `leaseDurationSeconds` as timed by the candidate's
  own monotonic clock (never by comparing wall clocks across machines).
- The leader renews every `retry_period`. When no renewal has succeeded for `renew_deadline`
  (the API server refused or did not answer, or another process holds the Lease), leadership is
  lost: the caller must stop reconciling at once. Since `renew_deadline < lease_duration`, a
  leader always stops before any other process can take over.
- Every write carries the resourceVersion it read, so two candidates never both win a round.
- On a clean stop the leader releases the Lease (no holder, duration 1 s): another takes it over
  at its next retry instead of waiting for the Lease to expire.

Kopf's peering is not election: it pauses operators of lower priority and, for peers of equal
priority, pauses every one of them, with no lease, expiry or fencing."""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import kube

logger = logging.getLogger(__name__)

API_VERSION = "coordination.k8s.io/v1"
KIND = "Lease"
JITTER = 1.2
"""A candidate waits up to this factor of `retry_period` between rounds (client-go's jitter)."""


@dataclass(frozen=True)
class Timing:
    """Shorter than client-go's defaults (15 s, 10 s, 2 s), for a takeover within 15 s with room
    for a loaded API server: a leader that dies without releasing is replaced within
    `worst_takeover` (10.4 s), and a leader cut off from the API server stops 2 s before anyone
    may take over."""

    lease_duration: float = 8.0
    renew_deadline: float = 6.0
    retry_period: float = 1.0

    @property
    def worst_takeover(self) -> float:
        """Seconds from a leader's death to a candidate's takeover, at most: the candidate sees
        the last renewal up to one (jittered) retry late, waits the lease duration from then,
        and looks again up to one retry later."""
        return self.lease_duration + 2 * JITTER * self.retry_period

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > JITTER * self.retry_period > 0:
            raise ValueError(
                "leader election needs lease duration > renew deadline > "
                f"{JITTER} x retry period > 0"
            )


@dataclass(frozen=True)
class Lock:
    """Which Lease, and who this process is."""

    namespace: str
    name: str
    identity: str


class Lost(Exception):
    """Leadership is lost: the Lease was not renewed within the renew deadline."""


def micro_time(moment: datetime.datetime) -> str:
    """A Lease's MicroTime: RFC 3339 with microseconds, in UTC."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _spec(lease: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (lease or {}).get("spec") or {}


@dataclass(frozen=True)
class Round:
    """What one look at the Lease decided: the Lease to write, or None when another holds it."""

    write: dict[str, Any] | None
    create: bool = False


def decide(
    lock: Lock,
    lease: Mapping[str, Any] | None,
    held_elsewhere: bool,
    timing: Timing,
    now: datetime.datetime,
) -> Round:
    """One round of client-go's tryAcquireOrRenew, pure. `held_elsewhere` is the caller's
    verdict that another holder's record is still within its lease duration."""
    spec = _spec(lease)
    holder = spec.get("holderIdentity") or ""
    if holder and holder != lock.identity and held_elsewhere:
        return Round(None)
    ours = holder == lock.identity
    transitions = int(spec.get("leaseTransitions") or 0)
    new_spec = {
        "holderIdentity": lock.identity,
        "leaseDurationSeconds": max(1, round(timing.lease_duration)),
        "acquireTime": spec.get("acquireTime") if ours else micro_time(now),
        "renewTime": micro_time(now),
        "leaseTransitions": transitions if ours or lease is None else transitions + 1,
    }
    metadata: dict[str, Any] = {"name": lock.name, "namespace": lock.namespace}
    if lease is not None:
        metadata["resourceVersion"] = lease["metadata"]["resourceVersion"]
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": new_spec}
    return Round(body, create=lease is None)


class Elector:
    """Acquires, renews and releases one Lease for this process."""

    def __init__(
        self,
        client: kube.Kube,
        lock: Lock,
        timing: Timing = Timing(),
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        seen: Callable[[], None] | None = None,
    ) -> None:
        """`seen` is told of every round that reached the API server."""
        self._client = client
        self._seen = seen
        self.lock = lock
        self.timing = timing
        self._clock = clock
        self._wall = wall
        self._observed: tuple[str, float] | None = None
        """The resourceVersion of the Lease last seen, and when (our monotonic clock) it was
        first seen: a holder whose record stays the same for its lease duration is gone."""
        self._held: dict[str, Any] | None = None
        """The Lease as this process last wrote it while leading."""

    @property
    def leading(self) -> bool:
        return self._held is not None

    async def _try(self) -> bool:
        """One round: True when this process holds the Lease afterwards."""
        lease = await self._client.get(API_VERSION, KIND, self.lock.namespace, self.lock.name)
        if self._seen is not None:
            self._seen()
        now = self._clock()
        held_elsewhere = False
        if lease is not None:
            version = lease["metadata"]["resourceVersion"]
            if self._observed is None or self._observed[0] != version:
                self._observed = (version, now)
            duration = float(_spec(lease).get("leaseDurationSeconds") or 0)
            held_elsewhere = self._observed[1] + duration > now
        decided = decide(self.lock, lease, held_elsewhere, self.timing, self._wall())
        if decided.write is None:
            self._held = None
            return False
        try:
            if decided.create:
                written = await self._client.create(decided.write)
            else:
                written = await self._client.update(decided.write)
        except kube.ApiError as error:
            if error.conflict:  # another candidate wrote first; look again next round
                self._held = None
                return False
            raise
        self._observed = (written["metadata"]["resourceVersion"], now)
        self._held = written
        return True

    async def acquire(self) -> None:
        """Return once this process holds the Lease; keep trying every retry period."""
        while True:
            try:
                if await self._try():
                    logger.info(
                        "leader election: %s now holds lease %s/%s",
                        self.lock.identity,
                        self.lock.namespace,
                        self.lock.name,
                    )
                    return
            except kube.ApiError as error:
                logger.warning("leader election: could not read or take the lease: %s", error)
            await asyncio.sleep(self.timing.retry_period * random.uniform(1.0, JITTER))  # noqa: S311

    async def hold(self) -> None:
        """Renew the Lease every retry period until leadership is lost, then raise `Lost`.

        A renewal counts only if it ends within `renew_deadline` of the start of the last
        successful one; each attempt is cut off at that deadline, so a hung API server cannot
        stretch it."""
        renewed = self._clock()
        try:
            while True:
                await asyncio.sleep(self.timing.retry_period)
                started = self._clock()
                if await self._renew(renewed + self.timing.renew_deadline - started):
                    renewed = started
        except Lost as lost:
            self._held = None
            logger.error(
                "leader election: lost lease %s/%s (%s): stopping reconciles",
                self.lock.namespace,
                self.lock.name,
                lost,
            )
            raise

    async def _renew(self, left: float) -> bool:
        """One renewal with `left` seconds to the renew deadline: True when renewed, False when
        it failed but the next may still succeed; `Lost` when leadership is gone."""
        late = Lost(f"no renewal within {self.timing.renew_deadline:g}s")
        if left <= 0:
            raise late
        try:
            async with asyncio.timeout(left):
                renewed = await self._try()
        except TimeoutError:
            raise late from None
        except kube.ApiError as error:
            logger.warning("leader election: renewal failed: %s", error)
            return False
        if not renewed:
            raise Lost("another process holds the lease")
        return True

    async def release(self) -> bool:
        """Give the Lease up (no holder, duration 1 s) when this process holds it; True when
        released. A failure is logged: the Lease then expires by itself."""
        held, self._held = self._held, None
        if held is None:
            return False
        spec = dict(_spec(held))
        spec.update(holderIdentity="", leaseDurationSeconds=1, renewTime=micro_time(self._wall()))
        body = {**held, "spec": spec}
        try:
            async with asyncio.timeout(self.timing.renew_deadline):
                await self._client.update(body)
        except (kube.ApiError, TimeoutError) as error:
            logger.warning("leader election: could not release the lease: %s", error)
            return False
        logger.info("leader election: released lease %s/%s", self.lock.namespace, self.lock.name)
        return True
