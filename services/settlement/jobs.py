"""Job kind → core function, for the jobs this worker runs (see yibao.jobs.kinds)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from yibao.errors import InvalidRequest
from yibao.jobs.orm import JobRunRow
from yibao.jobs.runner import Handler, JobContext
from yibao.payouts.daily_settle import settle_day


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


HANDLERS: dict[str, Handler] = {"daily_settle": daily_settle}
