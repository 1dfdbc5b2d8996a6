"""Wire the operator together and run it: Kopf (watches, index, liveness), the work queue's
workers and the periodic resync, until a signal stops them or any of them fails."""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping

import kopf

from runestone_operator import handlers
from runestone_operator.core import health, kinds, kube, names, settings, workqueue
from runestone_operator.gateway import reconcile as gateway
from runestone_operator.providerpool import reading
from runestone_operator.providerpool import reconcile as providerpool
from runestone_operator.vectorcluster import reconcile as vectorcluster

logger = logging.getLogger(__name__)

Reconcile = Callable[
    [kube.Kube, settings.Settings, str, str, datetime.datetime], Awaitable[workqueue.Outcome]
]
"""A kind's reconcile: (client, settings, namespace, name, now) -> how it ended."""

RECONCILES: Mapping[str, Reconcile] = {
    kinds.PROVIDER_POOL.name: providerpool.reconcile,
    kinds.GATEWAY.name: functools.partial(gateway.reconcile, read_pool=reading.read),
    kinds.VECTOR_CLUSTER.name: vectorcluster.reconcile,
}
"""Every kind's reconcile, with what it reads of other kinds (a Gateway: its ProviderPools)."""


class Reconciler:
    """Dispatches a work-queue key to the reconcile of its kind: the one place where every
    reconcile starts and ends."""

    def __init__(
        self,
        client: kube.Kube,
        config: settings.Settings,
        reconciles: Mapping[str, Reconcile] = RECONCILES,
    ) -> None:
        self._client = client
        self._config = config
        self._reconciles = reconciles

    async def __call__(self, key: handlers.Key) -> workqueue.Outcome:
        kind, namespace, name = key
        reconcile = self._reconciles.get(kind)
        if reconcile is None:
            raise ValueError(f"no reconcile for kind {kind!r}")
        now = datetime.datetime.now(datetime.UTC)
        try:
            return await reconcile(self._client, self._config, namespace, name, now)
        except kube.ApiError as error:
            logger.warning("reconcile of %s %s/%s: %s", kind, namespace, name, error)
            return workqueue.Outcome(retry=True)


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
) -> None:
    """Every `resync_seconds`, queue every object of every kind: drift made by hand is corrected
    even when no watch event announces it."""
    while True:
        try:
            for kind in kinds.ALL:
                for item in await _list_all(client, config, kind):
                    metadata = item["metadata"]
                    queue.add((kind.name, metadata["namespace"], metadata["name"]))
        except kube.ApiError as error:
            logger.warning("resync pass failed: %s", error)
        else:
            heartbeat.resync_pass()
        await asyncio.sleep(config.resync_seconds)


async def _signalled(kopf_started: asyncio.Event) -> signal.Signals:
    """The first SIGTERM or SIGINT, once Kopf has started.

    Kopf installs its own handlers for both as it starts, and on a signal it cancels every task
    created after its start, the work queue's workers among them, five seconds later. Taking the
    signals back lets `run` stop in order instead: workers first, then Kopf's watches."""
    await kopf_started.wait()
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def receive(signum: signal.Signals) -> None:
        if not received.done():
            received.set_result(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, receive, signum)
    return await received


async def run(config: settings.Settings) -> None:
    """Run until a signal or until any part fails; either way stop the work queue before Kopf's
    watches, then close the API client. A signal is a clean stop: nothing is raised."""
    client = await kube.Kube.connect(names.FIELD_MANAGER)
    heartbeat = health.Heartbeat()
    queue: workqueue.WorkQueue[handlers.Key] = workqueue.WorkQueue(
        Reconciler(client, config),
        workers=config.workers,
        backoff=workqueue.Backoff(config.retry_base_seconds, config.retry_max_seconds),
    )
    registry = handlers.build_registry(queue.add, queue.pending, heartbeat, config)
    kopf_started, kopf_stop = asyncio.Event(), asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=registry,
            settings=handlers.kopf_settings(),
            standalone=True,
            clusterwide=config.all_namespaces,
            namespaces=list(config.namespaces),
            liveness_endpoint=config.liveness_endpoint,
            stop_flag=kopf_stop,
            ready_flag=kopf_started,
        ),
        name="kopf",
    )
    signals = asyncio.create_task(_signalled(kopf_started), name="signals")
    ours = (
        signals,
        asyncio.create_task(queue.run(), name="workers"),
        asyncio.create_task(resync(client, config, queue, heartbeat), name="resync"),
    )
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
    finally:
        for task in ours:
            task.cancel()
        await asyncio.wait(ours)
        kopf_stop.set()
        await asyncio.wait([operator])
        await client.close()
