"""Year rollover: close the year's person-year accumulators, then derive next year's incentives."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit
from yibao.bill_settlement.orm import ACCUMULATOR_FIELDS
from yibao.clearing.orm import YearClosureRow
from yibao.enrolment import service as enrolment

_LOCK = text("SELECT pg_advisory_xact_lock(7305004)")


async def next_year_incentives(session: AsyncSession, year: int) -> int:
    """Derive year+1 incentives (continuity and zero-claim credits) now that ``year`` is closed,
    for everyone already enrolled for year+1 (later enrolees get theirs when they pay).
    Runs inside the rollover's transaction; ``yibao.enrolment`` writes them. Returns the
    enrolments updated."""
    return await enrolment.refresh_incentives(session, year + 1)


async def close_year(session: AsyncSession, year: int, staff: str) -> dict[str, Any]:
    """Snapshot the year's accumulator totals as final (once; a re-run returns the snapshot)."""
    await session.execute(_LOCK)
    existing = await session.get(YearClosureRow, year)
    if existing is not None:
        return {"year": year, "person_years": existing.person_years, "totals": existing.totals, "created": False}
    sums = ", ".join(f"COALESCE(SUM({f}), 0)::bigint AS {f}" for f in ACCUMULATOR_FIELDS)
    row = (await session.execute(text(f"SELECT count(*), {sums} FROM person_years WHERE year = :y"), {"y": year})).one()
    totals = {f: int(v) for f, v in zip(ACCUMULATOR_FIELDS, row[1:], strict=True)}
    session.add(YearClosureRow(year=year, person_years=int(row[0]), totals=totals, closed_by=staff))
    incentives = await next_year_incentives(session, year)
    await audit.record(session, audit.Actor("staff", staff), "year.closed", ("year", str(year)), {"totals": totals})
    await session.flush()
    return {
        "year": year,
        "person_years": int(row[0]),
        "totals": totals,
        "created": True,
        "next_year_incentives_updated": incentives,
    }
