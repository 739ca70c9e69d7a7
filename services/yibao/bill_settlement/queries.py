"""Read side of settlements: one settlement, or a keyset-paginated list, always scoped to the
institution (or, for staff, to none); a person's own bills for the member app."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.bill_settlement import render
from yibao.bill_settlement.orm import (
    ACCUMULATOR_FIELDS,
    BILLED_BY_INSTITUTION,
    PersonYearRow,
    SettlementLineRow,
    SettlementRow,
)
from yibao.clock import CHINA
from yibao.errors import InvalidRequest, NotFound


def _billed_by(institution_code: str) -> tuple[ColumnElement[bool], ...]:
    """An institution's own bills (``orm.BILLED_BY_INSTITUTION``): a counter claim stored under its
    code is the bureau's payment to the person, neither the institution's to see nor to count."""
    return SettlementRow.institution_code == institution_code, BILLED_BY_INSTITUTION


async def get(
    session: AsyncSession, settlement_id: str, institution_code: str | None, *, person_id: int | None = None
) -> dict[str, Any]:
    """``institution_code=None`` is staff access to every institution's bills; ``person_id``
    limits to that person's bills (the member app). Outside the scope is ``NOT_FOUND``."""
    try:
        sid = uuid.UUID(settlement_id)
    except ValueError:
        raise NotFound(f"结算 {settlement_id} 不存在 settlement not found") from None
    stmt = select(SettlementRow).where(SettlementRow.id == sid)
    if institution_code is not None:
        stmt = stmt.where(*_billed_by(institution_code))
    if person_id is not None:
        stmt = stmt.where(SettlementRow.person_id == person_id)
    row = await session.scalar(stmt)
    if row is None:
        raise NotFound(f"结算 {settlement_id} 不存在 settlement not found")
    lines = (await session.scalars(select(SettlementLineRow).where(SettlementLineRow.settlement_id == sid))).all()
    return render.from_rows(row, lines)


async def year_accumulators(session: AsyncSession, person_id: int, year: int) -> dict[str, int]:
    """The person's running totals of ``year`` as committed (the row every settlement of the
    person locks and moves; all 0 before their first bill of the year). Read-only."""
    row = await session.get(PersonYearRow, (person_id, year))
    return {f: int(getattr(row, f)) if row is not None else 0 for f in ACCUMULATOR_FIELDS}


def _encode(at: datetime, sid: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), str(sid)]).encode()).decode()


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, sid = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        moment, key = datetime.fromisoformat(at), uuid.UUID(sid)
    except (ValueError, TypeError) as exc:
        raise InvalidRequest("cursor is not one this API returned") from exc
    if moment.tzinfo is None or not 1900 < moment.year < 2200:  # ours are aware settlement times
        raise InvalidRequest("cursor is not one this API returned")
    return moment, key


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=CHINA)


async def list_page(
    session: AsyncSession,
    institution_code: str | None,
    date_from: date | None,
    date_to: date | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """Newest first by settlement time; ``from``/``to`` are settlement days in China time, inclusive."""
    if date_from and date_to and date_to < date_from:
        raise InvalidRequest("`to` is before `from`")
    stmt = select(SettlementRow)
    if institution_code is not None:
        stmt = stmt.where(*_billed_by(institution_code))
    if date_from:
        stmt = stmt.where(SettlementRow.settled_at >= _day_start(date_from))
    if date_to:
        stmt = stmt.where(SettlementRow.settled_at < _day_start(date_to + timedelta(days=1)))
    if cursor:
        at, sid = _decode(cursor)
        stmt = stmt.where(
            or_(SettlementRow.settled_at < at, and_(SettlementRow.settled_at == at, SettlementRow.id < sid))
        )
    rows = (
        await session.scalars(stmt.order_by(SettlementRow.settled_at.desc(), SettlementRow.id.desc()).limit(limit + 1))
    ).all()
    page, more = rows[:limit], len(rows) > limit
    lines_by_id: dict[uuid.UUID, list[SettlementLineRow]] = {r.id: [] for r in page}
    if page:
        for ln in await session.scalars(
            select(SettlementLineRow).where(SettlementLineRow.settlement_id.in_(list(lines_by_id)))
        ):
            lines_by_id[ln.settlement_id].append(ln)
    return {
        "items": [render.from_rows(r, lines_by_id[r.id]) for r in page],
        "next_cursor": _encode(page[-1].settled_at, page[-1].id) if more else None,
    }


async def of_person(session: AsyncSession, person_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """The person's bills, newest first, each with its full split (the settlement contract body)."""
    rows = list(
        await session.scalars(
            select(SettlementRow)
            .where(SettlementRow.person_id == person_id)
            .order_by(SettlementRow.settled_at.desc(), SettlementRow.id.desc())
            .limit(limit)
        )
    )
    if not rows:
        return []
    by: dict[uuid.UUID, list[SettlementLineRow]] = {r.id: [] for r in rows}
    for ln in await session.scalars(select(SettlementLineRow).where(SettlementLineRow.settlement_id.in_(list(by)))):
        by[ln.settlement_id].append(ln)
    return [render.from_rows(r, by[r.id]) for r in rows]
