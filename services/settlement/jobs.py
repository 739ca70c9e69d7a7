"""Job kind → core function, for the jobs this worker runs (see yibao.jobs.kinds)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from yibao.clearing import year_end
from yibao.clearing.rollover import close_year
from yibao.errors import InvalidRequest
from yibao.jobs.orm import JobRunRow
from yibao.jobs.runner import Handler, JobContext
from yibao.payouts.daily_settle import settle_day
from yibao.reconcile.dip_presettle import presettle
from yibao.reconcile.orm import ReconcileSubmissionRow

DEFAULT_REGION = "430522"  # the home pooling region (data/reference/policy-2026.json)


def _date(params: dict[str, Any], key: str = "date") -> date:
    try:
        return date.fromisoformat(str(params[key]))
    except (KeyError, ValueError):
        raise InvalidRequest(f"参数 {key} 须为 YYYY-MM-DD param {key!r} must be a date YYYY-MM-DD") from None


async def _requested_by(ctx: JobContext) -> str:
    async with ctx.sessionmaker() as s:
        return str(await s.scalar(select(JobRunRow.requested_by).where(JobRunRow.id == ctx.run_id)))


async def daily_settle(ctx: JobContext) -> dict[str, Any]:
    """One transaction: catch up the day's postings, take deductions, write the draft order."""
    day = _date(ctx.params)
    preparer = await _requested_by(ctx)
    async with ctx.sessionmaker() as s, s.begin():
        result = await settle_day(s, day, preparer)
    await ctx.progress(result.lines, result.lines)
    return result.as_dict()


def _int(params: dict[str, Any], key: str) -> int:
    try:
        return int(params[key])
    except (KeyError, ValueError, TypeError):
        raise InvalidRequest(f"参数 {key} 须为整数 param {key!r} must be an integer") from None


async def dip_presettle(ctx: JobContext) -> dict[str, Any]:
    region = str(ctx.params.get("region", DEFAULT_REGION))
    async with ctx.sessionmaker() as s, s.begin():
        return await presettle(s, region, _int(ctx.params, "year"), _int(ctx.params, "month"))


async def year_end_clearing(ctx: JobContext) -> dict[str, Any]:
    """``commit`` false → a preview in the run's result; true → the final clearing (once)."""
    region, year = str(ctx.params.get("region", DEFAULT_REGION)), _int(ctx.params, "year")
    async with ctx.sessionmaker() as s, s.begin():
        if ctx.params.get("commit") in (True, "true", "1", 1):
            return await year_end.commit(s, region, year, await _requested_by(ctx))
        return await year_end.preview(s, region, year)


async def year_rollover(ctx: JobContext) -> dict[str, Any]:
    async with ctx.sessionmaker() as s, s.begin():
        return await close_year(s, _int(ctx.params, "year"), await _requested_by(ctx))


async def monthly_reconcile(ctx: JobContext) -> dict[str, Any]:
    """Submissions are answered when received; the job re-reads one (ops follow-up)."""
    async with ctx.sessionmaker() as s:
        row = await s.get(ReconcileSubmissionRow, _int(ctx.params, "submission_id"))
        if row is None:
            raise InvalidRequest("submission not found")
        return {"submission_id": row.id, "status": row.status, "rows": row.rows}


HANDLERS: dict[str, Handler] = {
    "daily_settle": daily_settle,
    "dip_presettle": dip_presettle,
    "year_end_clearing": year_end_clearing,
    "year_rollover": year_rollover,
    "monthly_reconcile": monthly_reconcile,
}
