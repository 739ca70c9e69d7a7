"""Job kind → core use case, for the jobs this worker runs (see yibao.jobs.kinds).

Each handler calls the same use case as the API (it audits and commits), acting as whoever
requested the run (``JobContext.actor``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from yibao.chronic import service as chronic
from yibao.clearing import year_end
from yibao.clearing.rollover import close_year
from yibao.config import get_settings
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidRequest
from yibao.jobs.runner import Handler, JobContext
from yibao.ledger import fiscal
from yibao.payouts import service as payouts
from yibao.policy.params import ChronicPolicy
from yibao.policy.repository import load_active
from yibao.reconcile import dip_presettle as presettle
from yibao.reconcile import monthly


def _date(params: dict[str, Any], key: str = "date") -> date:
    try:
        return date.fromisoformat(str(params[key]))
    except (KeyError, ValueError):
        raise InvalidRequest(f"参数 {key} 须为 YYYY-MM-DD param {key!r} must be a date YYYY-MM-DD") from None


def _int(params: dict[str, Any], key: str) -> int:
    try:
        return int(params[key])
    except (KeyError, ValueError, TypeError):
        raise InvalidRequest(f"参数 {key} 须为整数 param {key!r} must be an integer") from None


def _region(params: dict[str, Any]) -> str:
    """The run's ``region``, else the home pooling region (setting ``HOME_REGION``)."""
    return str(params.get("region") or get_settings().home_region)


async def daily_settle(ctx: JobContext) -> dict[str, Any]:
    """One transaction: catch up the day's postings, take deductions, write the draft order."""
    day = _date(ctx.params)
    async with UnitOfWork(ctx.sessionmaker) as uow:
        result = await payouts.settle_day(uow, ctx.actor, day)
    await ctx.progress(result.lines, result.lines)
    return result.as_dict()


async def dip_presettle(ctx: JobContext) -> dict[str, Any]:
    async with UnitOfWork(ctx.sessionmaker) as uow:
        return await presettle.run(
            uow, ctx.actor, _region(ctx.params), _int(ctx.params, "year"), _int(ctx.params, "month")
        )


async def year_end_clearing(ctx: JobContext) -> dict[str, Any]:
    """``commit`` false → a preview in the run's result; true → the final clearing (once)."""
    region, year = _region(ctx.params), _int(ctx.params, "year")
    if ctx.params.get("commit") in (True, "true", "1", 1):
        async with UnitOfWork(ctx.sessionmaker) as uow:
            return await year_end.commit(uow, ctx.actor, region, year)
    async with ctx.sessionmaker() as s:
        return await year_end.preview(s, region, year)


async def year_rollover(ctx: JobContext) -> dict[str, Any]:
    async with ctx.sessionmaker() as s, s.begin():
        return await close_year(s, _int(ctx.params, "year"), ctx.requested_by)


async def chronic_rereview(ctx: JobContext) -> dict[str, Any]:
    """Lapsed recognitions expire; those ending within the home region's
    ``chronic_rereview_days_ahead`` (default 60) of the date are listed (issue #17)."""
    day = _date(ctx.params)
    async with ctx.sessionmaker() as s:
        policies = await load_active(s)
    policy = policies.get((get_settings().home_region, day.year))
    days_ahead = policy.chronic.rereview_days_ahead if policy is not None else ChronicPolicy().rereview_days_ahead
    async with UnitOfWork(ctx.sessionmaker) as uow:
        return await chronic.rereview(uow, ctx.actor, day, days_ahead)


async def monthly_reconcile(ctx: JobContext) -> dict[str, Any]:
    """Submissions are answered when received; the job re-reads one (ops follow-up)."""
    async with ctx.sessionmaker() as s:
        row = await monthly.find(s, _int(ctx.params, "submission_id"))
        if row is None:
            raise InvalidRequest("submission not found")
        return {"submission_id": row.id, "status": row.status, "rows": row.rows}


async def fiscal_subsidy(ctx: JobContext) -> dict[str, Any]:
    """One month's fiscal subsidy of the run's region (issue #19; the scheduler requests the month
    that has just closed on the 1st). Booked once: a second run answers the first booking."""
    region, year, month = _region(ctx.params), _int(ctx.params, "year"), _int(ctx.params, "month")
    async with UnitOfWork(ctx.sessionmaker) as uow:
        b = await fiscal.book_month(uow, ctx.actor, region, year, month)
    return {
        "region": b.region,
        "month": b.month,
        "residents": b.residents,
        "amount_fen": int(b.amount),
        "business_date": b.business_date.isoformat(),
        "created": b.created,
    }


HANDLERS: dict[str, Handler] = {
    "daily_settle": daily_settle,
    "dip_presettle": dip_presettle,
    "year_end_clearing": year_end_clearing,
    "year_rollover": year_rollover,
    "monthly_reconcile": monthly_reconcile,
    "chronic_rereview": chronic_rereview,
    "fiscal_subsidy": fiscal_subsidy,
}
