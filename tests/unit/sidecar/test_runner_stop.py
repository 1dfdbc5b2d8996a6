"""The sidecar leaves on SIGTERM even when a task absorbs its cancellation: it cancels again,
writes the Terminating condition and returns."""

from __future__ import annotations

import asyncio

from fixtures.podstatus import GATE, FakePodStatus
from runestone_sidecar import conditions, runner, settings
from runestone_sidecar.probes import base


class AbsorbingProbe:
    """Hangs until cancelled, then answers instead of raising, once: what asyncio.wait_for does
    on Python 3.11 when the cancellation meets a call that is finishing."""

    describe = "a probe that absorbs its first cancellation"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.absorbed = 0

    async def check(self) -> base.ProbeResult:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if self.absorbed:
                raise
            self.absorbed += 1
        return base.success("answered after being cancelled")


async def test_a_task_that_absorbs_its_cancellation_does_not_keep_the_sidecar_running() -> None:
    config = settings.Settings(
        target="http",
        url="http://127.0.0.1:9/readyz",
        condition=GATE,
        pod_name="p",
        namespace="n",
        period=0.05,
        host="127.0.0.1",
        port=0,
        grpc_port=0,
        termination_timeout=2,
    )
    probe = AbsorbingProbe()
    api = FakePodStatus()
    sidecar = runner.Sidecar(config, probe, api)
    stop = asyncio.Event()
    running = asyncio.create_task(sidecar.run(stop))
    await asyncio.wait_for(probe.started.wait(), 10)
    stop.set()
    # Waited for without cancelling it: the old shutdown waited for the probe loop forever.
    await asyncio.wait({running}, timeout=10)
    assert running.done(), "the sidecar kept running after its stop was set"
    code = running.result()
    assert probe.absorbed == 1
    assert code == 0
    assert api.condition()["status"] == "False"
    assert api.condition()["reason"] == conditions.TERMINATING
