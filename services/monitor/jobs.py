"""Job kind → core function, for the jobs this worker runs (see yibao.jobs.kinds).

Alerts go through their use case (audited, committed as whoever requested the run). A sweep
only adds suspects, idempotently, one transaction per model: its record is the run itself."""

from __future__ import annotations

from datetime import date
from typing import Any

from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidRequest
from yibao.jobs.runner import Handler, JobContext
from yibao.monitoring import alerts
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import selected, sweep_in_parallel

DEFAULT_PARALLELISM = 2


def _date(params: dict[str, Any], key: str) -> date:
    try:
        return date.fromisoformat(str(params[key]))
    except (KeyError, ValueError):
        raise InvalidRequest(f"job parameter {key} must be an ISO date") from None


async def monitor_sweep(ctx: JobContext) -> dict[str, Any]:
    """Every model (or ``models``) over bills dated in [date_from, date_to]; one transaction
    per model, ``parallelism`` models at a time (default 2, the cores of a small database
    host), each idempotent, so a retried run only adds what is still missing."""
    date_from, date_to = _date(ctx.params, "date_from"), _date(ctx.params, "date_to")
    parallelism = ctx.params.get("parallelism", DEFAULT_PARALLELISM)
    if not isinstance(parallelism, int) or not 1 <= parallelism <= 8:
        raise InvalidRequest("job parameter parallelism must be an integer from 1 to 8")
    async with ctx.sessionmaker() as s:
        rules = await load_rules(s)
    models = [r.rule_id for r in selected(rules, ctx.params.get("models"))]
    done: list[str] = []

    async def progress(rule_id: str, _: int) -> None:
        done.append(rule_id)
        await ctx.progress(len(done), len(models))

    found = await sweep_in_parallel(
        ctx.sessionmaker, rules, date_from, date_to, only=models, parallelism=parallelism, after_each=progress
    )
    return {"new_suspects": {m: found[m] for m in models}}


async def monitor_alerts(ctx: JobContext) -> dict[str, Any]:
    try:
        year, month = int(ctx.params["year"]), int(ctx.params["month"])
    except (KeyError, ValueError, TypeError):
        raise InvalidRequest("job parameters year and month are required integers") from None
    async with UnitOfWork(ctx.sessionmaker) as uow:
        return await alerts.raise_for_month(uow, ctx.actor, year, month)


HANDLERS: dict[str, Handler] = {"monitor_sweep": monitor_sweep, "monitor_alerts": monitor_alerts}
