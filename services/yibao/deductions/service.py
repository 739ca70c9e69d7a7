"""Book a deduction, idempotently on (kind, source): re-confirming the same suspect books nothing new."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.deductions.orm import DeductionRow
from yibao.errors import InvalidRequest
from yibao.money import Fen

FUNDS = ("basic", "critical_illness", "assistance")


async def book(
    session: AsyncSession,
    *,
    institution_code: str,
    fund: str,
    kind: str,
    source: str,
    amount: Fen,
    due_on: date,
    note: str = "",
) -> DeductionRow:
    if amount <= 0:
        raise InvalidRequest("a deduction must be a positive amount")
    if fund not in FUNDS:
        raise InvalidRequest(f"unknown fund {fund!r}; one of {', '.join(FUNDS)}")
    await session.execute(
        insert(DeductionRow)
        .values(
            institution_code=institution_code,
            fund=fund,
            kind=kind,
            source=source,
            amount=int(amount),
            remaining=int(amount),
            due_on=due_on,
            note=note,
        )
        .on_conflict_do_nothing(constraint="uq_deductions_kind_source")
    )
    row = await session.scalar(select(DeductionRow).where(DeductionRow.kind == kind, DeductionRow.source == source))
    assert row is not None
    return row
