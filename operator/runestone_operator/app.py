"""Wire the operator together and run it: Kopf (watches and the ProviderPool index), the HTTP
port (liveness and metrics), and, while this process leads, the work queue's workers and the
periodic resync, until a signal stops them or any of them fails.

Only the leader reconciles (`core.election`; without a lease namespace this process always
leads). Watches run on every replica, but a follower drops what they announce: the resync that
starts each term queues everything anyway. Losing the lease stops every reconcile at once. A
signal drains instead: no new reconcile starts, running ones finish within `drain_seconds`, and
only then is the lease released and are the watches stopped."""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from runestone_operator import handlers
from runestone_operator.core import (
    context,
    election,
    endpoints,
    health,
    kinds,
    kube,
    metrics,
    names,
    settings,
    workqueue,
)
from runestone_operator.gateway import linking
from runestone_operator.gateway import reconcile as gateway
from runestone_operator.providerpool import reading
from runestone_operator.providerpool import reconcile as providerpool
from runestone_operator.vectorcluster import reading as vector_reading
from runestone_operator.vectorcluster import reconcile as vectorcluster

logger = logging.getLogger(__name__)

Reconcile = Callable[
    [kube.Kube, settings.Settings, str, str, datetime.datetime], Awaitable[workqueue.Outcome]
]
"""A kind's reconcile: (client, settings, namespace, name, now) -> how it ended."""

RECONCILES: Mapping[str, Reconcile] = {
    kinds.PROVIDER_POOL.name: providerpool.reconcile,
    kinds.GATEWAY.name: functools.partial(
        gateway.reconcile, read_pool=reading.read, read_cluster=vector_reading.read
    ),
    kinds.VECTOR_CLUSTER.name: functools.partial(vectorcluster.reconcile, read_links=linking.read),
}
"""Every kind's reconcile, with what it reads of other kinds (a Gateway: its ProviderPools and
its VectorCluster; a VectorCluster: the Gateways that reference it)."""


class Reconciler:
    """Dispatches a work-queue key to the reconcile of its kind: the one place where every
    reconcile starts and ends, and where its duration, result and Degraded reason are counted."""

    def __init__(
        self,
        client: kube.Kube,
        config: settings.Settings,
        counted: metrics.Metrics,
        reconciles: Mapping[str, Reconcile] = RECONCILES,
    ) -> None:
        self._client = client
        self._config = config
        self._metrics = counted
        self._reconciles = reconciles

    async def __call__(self, key: handlers.Key) -> workqueue.Outcome:
        kind, namespace, name = key
        reconcile = self._reconciles.get(kind)
        if reconcile is None:
            raise ValueError(f"no reconcile for kind {kind!r}")
        now = datetime.datetime.now(datetime.UTC)
        started = time.perf_counter()
        result = metrics.CANCELLED  # unless it ends by itself
        try:
            try:
                outcome = await reconcile(self._client, self._config, namespace, name, now)
            except kube.ApiError as error:
                logger.warning("reconcile of %s %s/%s: %s", kind, namespace, name, error)
                outcome = workqueue.Outcome(retry=True, degraded=context.api_failure(error).reason)
            except Exception:
                result = metrics.ERROR
                self._metrics.degraded(kind, metrics.UNEXPECTED)
                raise
            result = metrics.RETRY if outcome.retry else metrics.SUCCESS
            if outcome.degraded:
                self._metrics.degraded(kind, outcome.degraded)
            return outcome
        finally:
            self._metrics.reconciled(kind, result, time.perf_counter() - started)


async def _list_all(
    client: kube.Kube, config: settings.Settings, kind: kinds.Kind
) -> list[kube.Object]:
    namespaces: tuple[str | None, ...] = config.namespaces or (None,)
    found: list[kube.Object] = []
    for namespace in namespaces:
        found += await client.list(kinds.API_VERSION, kind.name, namespace)
    return found


async def resync(
    client: kube.Kube,
    config: settings.Settings,
    queue: workqueue.WorkQueue[handlers.Key],
    heartbeat: health.Heartbeat,
    counted: metrics.Metrics,
) -> None:
    """Every `resync_seconds`, queue every object of every kind: drift made by hand is corrected
    even when no watch event announces it. Each pass also counts the objects managed."""
    while True:
        try:
            managed: dict[str, int] = {}
            for kind in kinds.ALL:
                items = await _list_all(client, config, kind)
                managed[kind.name] = len(items)
                for item in items:
                    metadata = item["metadata"]
                    queue.add((kind.name, metadata["namespace"], metadata["name"]))
        except kube.ApiError as error:
            logger.warning("resync pass failed: %s", error)
        else:
            counted.count_managed(managed)
            heartbeat.resync_pass()
        await asyncio.sleep(config.resync_seconds)


class Alone:
    """Leadership without election: this process always leads (`--no-leader-election`)."""

    async def acquire(self) -> None:
        return

    async def hold(self) -> None:
        await asyncio.Event().wait()

    async def release(self) -> bool:
        return False


Leadership = election.Elector | Alone


async def drain(queue: workqueue.WorkQueue[handlers.Key], seconds: float) -> bool:
    """Let running reconciles finish for at most `seconds`, start none; True when all finished,
    False (logged, naming them) when the deadline cut some off."""
    running = queue.running()
    if running:
        logger.warning(
            "draining: %d reconcile(s) running (%s), waiting up to %gs",
            len(running),
            _named(running),
            seconds,
        )
    drained = await queue.drain(seconds)
    if drained.cancelled:
        logger.error(
            "drain incomplete: the deadline of %gs passed; cancelled %d reconcile(s) halfway: %s",
            seconds,
            len(drained.cancelled),
            _named(drained.cancelled),
        )
        return False
    if running:
        logger.warning(
            "drained: %d reconcile(s) finished: %s",
            len(drained.finished),
            _named(drained.finished),
        )
    return True


def _named(keys: tuple[handlers.Key, ...]) -> str:
    return ", ".join(f"{kind} {namespace}/{name}" for kind, namespace, name in sorted(keys))


class Operator:
    """The parts of one operator process that outlive a leadership term, and the current term's
    work queue (None while following)."""

    def __init__(
        self,
        client: kube.Kube,
        config: settings.Settings,
        heartbeat: health.Heartbeat,
        counted: metrics.Metrics,
        leadership: Leadership,
    ) -> None:
        self.client = client
        self.config = config
        self.heartbeat = heartbeat
        self.metrics = counted
        self.leadership = leadership
        self.queue: workqueue.WorkQueue[handlers.Key] | None = None
        counted.watch_queue(
            lambda: self.queue.depth() if self.queue else 0,
            lambda: self.queue.in_flight() if self.queue else 0,
        )

    def enqueue(self, key: handlers.Key) -> None:
        """What a watch announces; a follower drops it."""
        if self.queue is not None:
            self.queue.add(key)

    def activity(self) -> dict[str, object]:
        """The liveness report; `endpoints.Unhealthy` after too long a silence."""
        try:
            report = self.heartbeat.check(self.config.liveness_max_age).to_document()
        except health.Stale as stale:
            raise endpoints.Unhealthy(str(stale)) from None
        pending = self.queue.pending() if self.queue else 0
        return {**report, "pending": pending, "leading": self.queue is not None}

    async def lead(self, stopping: asyncio.Event) -> bool:
        """Follow and lead, term after term, until `stopping` is set; then drain the running
        term and release the lease. True unless the drain cut reconciles off."""
        while True:
            if not await _first(self.leadership.acquire(), stopping):
                return True
            logger.info("leading: reconciling")
            holding = asyncio.create_task(self.leadership.hold(), name="lease")
            try:
                drained = await self._term(holding, stopping)
            finally:
                holding.cancel()
                await asyncio.wait([holding])
            if drained is not None:
                await self.leadership.release()
                return drained
            logger.warning("following: reconciles stopped until the lease is taken again")

    async def _term(self, holding: asyncio.Task[None], stopping: asyncio.Event) -> bool | None:
        """One term: workers and resync until the lease is lost (None: every reconcile cancelled
        at once) or `stopping` is set (then drained while the lease is still renewed: whether
        every running reconcile finished)."""
        config = self.config
        queue: workqueue.WorkQueue[handlers.Key] = workqueue.WorkQueue(
            Reconciler(self.client, config, self.metrics),
            workers=config.workers,
            backoff=workqueue.Backoff(config.retry_base_seconds, config.retry_max_seconds),
            waited=self.metrics.waited,
        )
        self.queue = queue
        self.metrics.leading(True)
        workers = asyncio.create_task(queue.run(), name="workers")
        passes = asyncio.create_task(
            resync(self.client, self.config, queue, self.heartbeat, self.metrics), name="resync"
        )
        stop = asyncio.create_task(stopping.wait(), name="stopping")
        try:
            await asyncio.wait({holding, passes, stop}, return_when=asyncio.FIRST_COMPLETED)
            if passes.done():
                passes.result()  # re-raise what stopped it
            if holding.done():
                _lost(holding)
                return None  # the finally cancels every reconcile now
            passes.cancel()
            draining = asyncio.create_task(drain(queue, self.config.drain_seconds))
            await asyncio.wait({draining, holding}, return_when=asyncio.FIRST_COMPLETED)
            if not draining.done():
                _lost(holding)
                draining.cancel()
                await asyncio.wait([draining])
                return False
            return draining.result()
        finally:
            self.queue = None
            self.metrics.leading(False)
            for task in (workers, passes, stop):
                task.cancel()
            await asyncio.wait({workers, passes, stop})


def _lost(holding: asyncio.Task[None]) -> None:
    """Leadership ended: the lease was lost (anything else the lease task raised, re-raised)."""
    problem = holding.exception()
    if not isinstance(problem, election.Lost) and problem is not None:
        raise problem


async def _first(work: Awaitable[None], stopping: asyncio.Event) -> bool:
    """Await `work` unless `stopping` is set first; True when `work` finished."""
    task = asyncio.ensure_future(work)
    stop = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
            return True
        return False
    finally:
        for pending in (task, stop):
            pending.cancel()
        await asyncio.wait({task, stop})


async def _signalled(kopf_started: asyncio.Event) -> signal.Signals:
    """The first SIGTERM or SIGINT, once Kopf has started.

    Kopf installs its own handlers for both as it starts, and on a signal it cancels every task
    created after its start, the work queue's workers among them, five seconds later. Taking the
    signals back lets `run` stop in order instead: drain the workers, release the lease, then
    stop Kopf's watches."""
    await kopf_started.wait()
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def receive(signum: signal.Signals) -> None:
        if not received.done():
            received.set_result(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, receive, signum)
    return await received


def _leadership(
    client: kube.Kube, config: settings.Settings, heartbeat: health.Heartbeat
) -> Leadership:
    if config.lease_namespace is None:
        return Alone()
    lock = election.Lock(config.lease_namespace, config.lease_name, config.identity)
    return election.Elector(client, lock, seen=heartbeat.election_round)


async def run(config: settings.Settings) -> bool:
    """Run until a signal or until any part fails; either way stop reconciling (draining on a
    signal), release the lease, stop Kopf's watches, then close the API client. A signal is a
    clean stop: nothing is raised. False when the drain's deadline cut reconciles off."""
    counted = metrics.Metrics()
    client = await kube.Kube.connect(names.FIELD_MANAGER, counted.api_request)
    heartbeat = health.Heartbeat()
    process = Operator(client, config, heartbeat, counted, _leadership(client, config, heartbeat))
    registry = handlers.build_registry(process.enqueue, heartbeat)
    kopf_started, kopf_stop, stopping = asyncio.Event(), asyncio.Event(), asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=registry,
            settings=handlers.kopf_settings(),
            standalone=True,
            clusterwide=config.all_namespaces,
            namespaces=list(config.namespaces),
            stop_flag=kopf_stop,
            ready_flag=kopf_started,
        ),
        name="kopf",
    )
    signals = asyncio.create_task(_signalled(kopf_started), name="signals")
    leading = asyncio.create_task(process.lead(stopping), name="leadership")
    ours: set[asyncio.Task[Any]] = {signals, leading}
    if config.liveness_endpoint is not None:
        address = endpoints.Address.parse(config.liveness_endpoint)
        ours.add(
            asyncio.create_task(
                endpoints.serve(address, process.activity, counted.render), name="http"
            )
        )
    drained = True
    try:
        done, _ = await asyncio.wait({operator, *ours}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            # A cancelled task is Kopf stopping on a signal that came before it had started.
            if task.cancelled():
                continue
            if task is signals:
                logger.warning("%s received: stopping", signals.result().name)
            else:
                task.result()  # re-raise what stopped it
        stopping.set()
        drained = await leading
    finally:
        stopping.set()
        for task in ours:
            task.cancel()
        await asyncio.wait(ours)
        kopf_stop.set()
        await asyncio.wait([operator])
        await client.close()
    return drained
