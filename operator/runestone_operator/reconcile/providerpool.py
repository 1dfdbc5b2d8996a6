"""A ProviderPool reconcile: validate what only the operator can check (that the gateway accepts
the pool, that its Secrets exist) and report the models it serves."""

from __future__ import annotations

import datetime

import pydantic

from runestone_operator import conditions, kube, timestamps, workqueue
from runestone_operator.builders import config as config_builder
from runestone_operator.builders import meta
from runestone_operator.conditions import Observation, Reason
from runestone_operator.models import common, providerpool
from runestone_operator.steps import context, pools, status


def _observations(problem: tuple[str, str] | None) -> list[Observation]:
    if problem is None:
        return [
            Observation(
                conditions.READY, conditions.TRUE, Reason.VALID, "every provider is usable"
            ),
            Observation(conditions.PROGRESSING, conditions.FALSE, Reason.RECONCILED, "up to date"),
            Observation(conditions.DEGRADED, conditions.FALSE, Reason.VALID, "no problems found"),
        ]
    reason, message = problem
    return [
        Observation(conditions.READY, conditions.FALSE, reason, message),
        Observation(conditions.PROGRESSING, conditions.FALSE, Reason.RECONCILED, "up to date"),
        Observation(conditions.DEGRADED, conditions.TRUE, reason, message),
    ]


async def reconcile(
    client: kube.Kube, namespace: str, name: str, now: datetime.datetime
) -> workqueue.Outcome:
    body = await client.get(common.API_VERSION, providerpool.KIND, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return workqueue.Outcome()
    metadata = body["metadata"]
    owner = meta.Owner(common.API_VERSION, providerpool.KIND, namespace, name, metadata["uid"])
    generation = int(metadata.get("generation", 0))
    spec = providerpool.ProviderPoolSpec.model_validate(body.get("spec") or {})
    try:
        current = providerpool.ProviderPoolStatus.model_validate(body.get("status") or {})
    except pydantic.ValidationError:
        current = providerpool.ProviderPoolStatus()

    problem: tuple[str, str] | None = None
    try:
        config_builder.pool_config(config_builder.Pool(name, spec))
    except pydantic.ValidationError as error:
        problem = (
            Reason.INVALID_CONFIG,
            f"the gateway would refuse this pool: {pools.describe(error)}",
        )
    if problem is None:
        try:
            missing = await pools.pool_secret_problems(client, namespace, name, spec)
        except kube.ApiError as error:
            failure = context.blocked_by(error, f"providerpool {namespace}/{name}")
            problem = (failure.reason, failure.message)
        else:
            if missing:
                problem = (Reason.MISSING_SECRET, "; ".join(missing))

    moment = timestamps.truncate(now)
    merged = conditions.merge(current.conditions, _observations(problem), generation, moment)
    new = providerpool.ProviderPoolStatus(
        observed_generation=generation, conditions=merged, models=spec.model_names()
    )
    await status.write_status(
        client, owner, current.model_dump(mode="json", by_alias=True, exclude_none=True), new
    )
    await status.degraded_events(client, owner, current.conditions, merged, moment)
    return workqueue.Outcome(retry=problem is not None)
