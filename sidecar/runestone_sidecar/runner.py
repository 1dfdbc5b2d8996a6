"""The sidecar's life: serve health, probe every period, report, and leave cleanly.

Probing and reporting are separate tasks, so an API server that is away (the reporter backs off)
never stops the probes, and a slow probe never delays a write.
"""

from __future__ import annotations

import asyncio
import logging
import time

from runestone_sidecar import (
    backoff,
    conditions,
    health_grpc,
    health_http,
    hysteresis,
    metrics,
    reporter,
    settings,
)
from runestone_sidecar.probes import base

log = logging.getLogger("runestone.sidecar")


CANCEL_ROUNDS = 3
CANCEL_WAIT = 1.0  # seconds each round waits for the cancelled tasks to end


def terminating() -> conditions.Desired:
    return conditions.Desired(
        False, conditions.TERMINATING, "the sidecar is stopping; the pod is leaving service"
    )


class Sidecar:
    def __init__(
        self, config: settings.Settings, probe: base.Probe, api: reporter.PodStatus
    ) -> None:
        self.config = config
        self.probe = probe
        self.metrics = metrics.Metrics()
        self.heartbeat = health_http.Heartbeat(
            stale_after=max(10.0, 3 * config.period + 2 * config.timeout)
        )
        self.reporter = reporter.Reporter(
            api,
            config.condition,
            hysteresis.starting(config.success_threshold),
            self.metrics,
            backoff.Backoff(cap=config.backoff_cap),
            config.resync_period,
        )

    async def run(self, stop: asyncio.Event) -> int:
        config = self.config
        http_server = await health_http.HealthHttp(self.metrics, self.heartbeat.check).start(
            config.host, config.port
        )
        grpc_server = health_grpc.HealthGrpc()
        grpc_port = await grpc_server.start(config.host, config.grpc_port)
        http_port = http_server.sockets[0].getsockname()[1]
        log.info(
            "probing %s every %gs; reporting %s on pod %s/%s; /healthz and /metrics on %s:%d; "
            "grpc.health.v1 on %s:%d",
            self.probe.describe,
            config.period,
            config.condition,
            config.namespace,
            config.pod_name,
            config.host,
            http_port,
            config.host,
            grpc_port,
        )
        probing = asyncio.create_task(self.probe_loop(), name="probe-loop")
        reporting = asyncio.create_task(self.reporter.run(), name="reporter")
        stopped = asyncio.create_task(stop.wait(), name="stop")
        done, _ = await asyncio.wait(
            {probing, reporting, stopped}, return_when=asyncio.FIRST_COMPLETED
        )
        crashed = [task for task in done if task is not stopped]
        for task in crashed:  # a loop that ended by itself is a bug: say so, then leave cleanly
            log.error("%s ended unexpectedly", task.get_name(), exc_info=task.exception())
        await _cancel({probing, reporting, stopped})
        log.info("stopping: setting %s False before exiting", config.condition)
        deadline = time.monotonic() + config.termination_timeout
        reported = await self.reporter.finish(terminating(), deadline)
        await grpc_server.stop()
        http_server.close()
        return 0 if reported and not crashed else 1

    async def probe_loop(self) -> None:
        config = self.config
        state = hysteresis.Hysteresis(config.success_threshold, config.failure_threshold)
        desired = self.reporter.desired
        previous_ok: bool | None = None
        next_at = time.monotonic()
        while True:
            result, elapsed = await self._probe_once()
            self.heartbeat.beat()
            self.metrics.probe_duration.observe(elapsed, config.label)
            outcome = "success" if result.ok else "failure"
            self.metrics.probe_results.inc(config.label, outcome, result.reason)
            if result.ok != previous_ok:
                log.info("probe %s in %.3fs: %s", outcome, elapsed, result.message)
            previous_ok = result.ok
            state, desired = hysteresis.step(state, desired, result)
            self.reporter.want(desired)
            next_at += config.period
            now = time.monotonic()
            if next_at < now:  # a probe overran its period: start the schedule afresh
                next_at = now + config.period
            await asyncio.sleep(next_at - now)

    async def _probe_once(self) -> tuple[base.ProbeResult, float]:
        started = time.monotonic()
        limit = self.config.timeout + 1.0  # probes honour their own timeout; this is a backstop
        try:
            async with asyncio.timeout(limit):
                result = await self.probe.check()
        except TimeoutError:
            result = base.failure(
                conditions.PROBE_TIMEOUT, f"{self.probe.describe}: no answer within {limit:g}s"
            )
        except Exception as error:  # a probe bug must never stop the sidecar
            log.exception("probe raised")
            result = base.failure(
                conditions.BAD_RESPONSE,
                f"{self.probe.describe}: {type(error).__name__}: {error}"[:300],
            )
        return result, time.monotonic() - started


async def _cancel(tasks: set[asyncio.Task[object]]) -> None:
    """Cancel the tasks and wait for them, each round bounded: a task that absorbed its
    cancellation (a library that returns instead of raising when the cancel meets a finishing
    call) is cancelled again, and one that never ends is left behind with an error, so the
    sidecar still writes its last condition and exits."""
    running = {task for task in tasks if not task.done()}
    pending = running
    for _ in range(CANCEL_ROUNDS):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_WAIT)
    if pending:
        names = ", ".join(sorted(task.get_name() for task in pending))
        log.error("%s did not stop when cancelled; exiting without it", names)
    for task in running - pending:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed while stopping", task.get_name(), exc_info=task.exception())
