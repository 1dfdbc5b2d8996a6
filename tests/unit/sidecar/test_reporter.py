"""The reporter against a fake pods/status endpoint: fresh reads, resourceVersion preconditions,
conflict retries, no write when nothing changed, and backoff while the API server is away."""

from __future__ import annotations

import asyncio
import time

import pytest

from fixtures.podstatus import GATE, FakePodStatus
from runestone_sidecar import backoff, conditions, kubeapi, metrics, reporter

READY = conditions.Desired(True, conditions.TARGET_READY, "ok")
DOWN = conditions.Desired(False, conditions.TARGET_NOT_READY, "503")


def make(
    api: FakePodStatus, clock: list[str] | None = None
) -> tuple[reporter.Reporter, metrics.Metrics]:
    m = metrics.Metrics()
    times = iter(clock or [f"2026-01-01T00:00:{i:02d}Z" for i in range(60)])
    r = reporter.Reporter(
        api, GATE, DOWN, m, backoff.Backoff(base=0.01, cap=0.02), 3600, now=lambda: next(times)
    )
    return r, m


async def test_writes_once_then_only_on_change() -> None:
    api = FakePodStatus()
    r, m = make(api)
    await r.sync_once()
    await r.sync_once()  # nothing changed: a read, no patch
    assert len(api.patches) == 1
    r.want(READY)
    await r.sync_once()
    assert len(api.patches) == 2
    assert api.condition()["status"] == "True"
    assert m.transitions.value(GATE) == 2  # absent -> False -> True
    assert [c["type"] for c in api.pod["status"]["conditions"]] == ["Ready", GATE]


async def test_transition_time_moves_only_when_status_does() -> None:
    api = FakePodStatus()
    r, _ = make(api)
    await r.sync_once()
    first = api.condition()["lastTransitionTime"]
    r.want(conditions.Desired(False, conditions.TARGET_UNREACHABLE, "refused"))
    await r.sync_once()
    assert api.condition()["lastTransitionTime"] == first
    assert api.condition()["reason"] == conditions.TARGET_UNREACHABLE
    r.want(READY)
    await r.sync_once()
    assert api.condition()["lastTransitionTime"] != first


async def test_conflict_is_retried_with_a_fresh_read() -> None:
    api = FakePodStatus()
    api.meddle_before_patch = 2
    r, m = make(api)
    await r.sync_once()
    assert api.condition()["status"] == "False"
    assert len(api.patches) == 3  # two refused on a stale resourceVersion, then accepted
    assert api.reads == 3
    assert m.patch_errors.value(GATE, kubeapi.CONFLICT) == 2


async def test_endless_conflicts_give_up_with_an_error() -> None:
    api = FakePodStatus()
    api.meddle_before_patch = 100
    r, _ = make(api)
    with pytest.raises(kubeapi.ApiError) as caught:
        await r.sync_once()
    assert caught.value.kind == kubeapi.CONFLICT


async def test_run_backs_off_while_unreachable_and_reports_the_latest_verdict() -> None:
    api = FakePodStatus()
    api.unreachable = 4
    r, m = make(api)
    task = asyncio.create_task(r.run())
    r.want(READY)  # the verdict changes while the API server is away
    for _ in range(500):
        if api.patches:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert m.patch_errors.value(GATE, kubeapi.UNREACHABLE) == 4
    assert len(api.patches) == 1  # the stale False was never written
    assert api.condition()["status"] == "True"
    assert r.in_sync


async def test_resync_repairs_a_condition_changed_by_someone_else() -> None:
    api = FakePodStatus()
    r, _ = make(api)
    await r.sync_once()
    api.pod["status"]["conditions"][-1]["status"] = "True"  # a stranger flips it
    await r.sync_once()
    assert api.condition()["status"] == "False"


async def test_finish_writes_the_final_condition_despite_early_failures() -> None:
    api = FakePodStatus()
    r, _ = make(api)
    await r.sync_once()
    r.want(READY)
    await r.sync_once()
    api.unreachable = 2
    final = conditions.Desired(False, conditions.TERMINATING, "stopping")
    assert await r.finish(final, time.monotonic() + 5)
    assert api.condition()["reason"] == conditions.TERMINATING


async def test_finish_gives_up_at_the_deadline() -> None:
    api = FakePodStatus()
    api.unreachable = 10_000
    r, _ = make(api)
    final = conditions.Desired(False, conditions.TERMINATING, "stopping")
    assert not await r.finish(final, time.monotonic() + 0.2)


async def test_a_surprise_while_reporting_is_retried_not_fatal() -> None:
    api = FakePodStatus()
    api.pod["status"] = "not an object"  # what no API server sends; the reporter must survive
    r, m = make(api)
    task = asyncio.create_task(r.run())
    for _ in range(500):
        if m.patch_errors.value(GATE, kubeapi.OTHER) >= 2:
            break
        await asyncio.sleep(0.01)
    assert not task.done()
    api.pod["status"] = {"conditions": []}
    for _ in range(500):
        if r.in_sync:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert api.condition()["status"] == "False"
