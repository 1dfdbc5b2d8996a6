"""A ProviderPool reconcile: validate what only the operator can check (that the gateway accepts
the pool, that its Secrets exist) and report the models it serves."""

from __future__ import annotations

import datetime

import pydantic

from runestone_operator.core import (
    conditions,
    context,
    kinds,
    kube,
    references,
    settings,
    workqueue,
)
from runestone_operator.core.conditions import Observation, Reason
from runestone_operator.core.steps import status
from runestone_operator.providerpool import model, render

LOADER = context.Loader(kinds.PROVIDER_POOL, model.ProviderPoolSpec, model.ProviderPoolStatus)


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


async def _problem(
    ctx: context.Context[model.ProviderPoolSpec, model.ProviderPoolStatus],
) -> tuple[str, str] | None:
    try:
        pool = render.view(ctx.name, ctx.spec)
    except pydantic.ValidationError as error:
        return (
            Reason.INVALID_CONFIG,
            f"the gateway would refuse this pool: {references.describe(error)}",
        )
    try:
        problems = await references.credential_problems(ctx.kube, ctx.namespace, [pool])
    except kube.ApiError as error:
        failure = context.blocked_by(error, ctx.what)
        return (failure.reason, failure.message)
    if not problems:
        return None
    problem = references.summary(problems)
    return (problem.reason, problem.message)


async def reconcile(
    client: kube.Kube,
    config: settings.Settings,
    namespace: str,
    name: str,
    now: datetime.datetime,
) -> workqueue.Outcome:
    ctx = await LOADER.load(client, config, namespace, name, now)
    if ctx is None:
        return workqueue.Outcome()
    problem = await _problem(ctx)
    new = model.ProviderPoolStatus(
        observed_generation=ctx.generation,
        conditions=status.merged(ctx, _observations(problem)),
        models=ctx.spec.model_names(),
    )
    degraded = await status.publish(ctx, new)
    return workqueue.Outcome(retry=problem is not None, degraded=degraded)
