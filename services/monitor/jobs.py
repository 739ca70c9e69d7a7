"""Job kind → core function, for the jobs this worker runs (see yibao.jobs.kinds)."""

from __future__ import annotations

from datetime import date
from typing import Any

from yibao.errors import InvalidRequest
from yibao.jobs.runner import Handler, JobContext
from yibao.monitoring import alerts
from yibao.monitoring.repository import load_rules
from yibao.monitoring.sweep import selected
from yibao.monitoring.sweep import sweep as run_sweep


def _date(params: dict[str, Any], key: str) -> date:
    try:
        return date.fromisoformat(str(params[key]))
    except (KeyError, ValueError):
        raise InvalidRequest(f"job parameter {key} must be an ISO date") from None


async def monitor_sweep(ctx: JobContext) -> dict[str, Any]:
    """Every model (or ``models``) over bills dated in [date_from, date_to]; one transaction
    per model, each idempotent, so a retried run only adds what is still missing."""
    date_from, date_to = _date(ctx.params, "date_from"), _date(ctx.params, "date_to")
    async with ctx.sessionmaker() as s:
        rules = await load_rules(s)
    models = [r.rule_id for r in selected(rules, ctx.params.get("models"))]
    found: dict[str, int] = {}
    for n, rule_id in enumerate(models, start=1):
        async with ctx.sessionmaker() as s, s.begin():
            found.update(await run_sweep(s, rules, date_from, date_to, only=[rule_id]))
        await ctx.progress(n, len(models))
    return {"new_suspects": found}


async def monitor_alerts(ctx: JobContext) -> dict[str, Any]:
    try:
        year, month = int(ctx.params["year"]), int(ctx.params["month"])
    except (KeyError, ValueError, TypeError):
        raise InvalidRequest("job parameters year and month are required integers") from None
    async with ctx.sessionmaker() as s, s.begin():
        return await alerts.run(s, await load_rules(s), year, month)


HANDLERS: dict[str, Handler] = {"monitor_sweep": monitor_sweep, "monitor_alerts": monitor_alerts}
