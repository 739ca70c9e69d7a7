"""The read side of deductions: what an institution owes the fund, which daily settles took it
and what still carries forward (``GET /api/v1/deductions``).

What took a deduction is read from the ledger, where the daily settle records it: each take is
a ``deduction`` movement whose payable leg (``+take``) has the source ``<deduction id>@<settle
date>`` and that settle date (see ``yibao.payouts.daily_settle``); the order is the one of that
settle date. A partial index (``ix_ledger_postings_deduction_takes``) keeps this to the
deduction legs of the page's institutions, however many bill legs the ledger holds.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.clock import CHINA
from yibao.deductions.orm import DeductionRow
from yibao.errors import InvalidRequest
from yibao.money import to_wire

#: a deduction's status: nothing taken yet / partly taken (the rest carries forward) / all taken
STATUSES = ("open", "partial", "taken")
#: filters: a status, or ``outstanding`` (open or partial: still owed)
STATUS_FILTERS = (*STATUSES, "outstanding")

_TAKES = text(
    """
    SELECT split_part(l.source, '@', 1)::bigint AS deduction_id, l.settle_date, l.amount, o.id AS order_id
    FROM ledger_postings l
    LEFT JOIN disbursement_orders o ON o.settle_date = l.settle_date
    WHERE l.movement = 'deduction' AND l.account = 'payable'
      AND l.institution_code = ANY(:codes) AND split_part(l.source, '@', 1) = ANY(:ids)
    ORDER BY l.settle_date, l.id
    """
)


def status_of(row: DeductionRow) -> str:
    return "open" if row.remaining == row.amount else "taken" if row.remaining == 0 else "partial"


def source_type(row: DeductionRow) -> str:
    if row.source.startswith("suspect:"):
        return "suspect"
    if row.kind == "procured_goods":
        return "supplier_payment"
    return "other"


def render(row: DeductionRow, takes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row.id,
        "institution_code": row.institution_code,
        "fund": row.fund,
        "kind": row.kind,
        "source_type": source_type(row),
        "source": row.source,
        "note": row.note,
        "amount": to_wire(row.amount),
        "taken": to_wire(row.amount - row.remaining),
        "remaining": to_wire(row.remaining),
        "status": status_of(row),
        "due_on": row.due_on.isoformat(),
        "created_at": row.created_at.astimezone(CHINA).isoformat() if row.created_at else None,
        "takes": takes,
    }


async def _takes(session: AsyncSession, rows: list[DeductionRow]) -> dict[int, list[dict[str, Any]]]:
    taken = [r for r in rows if r.remaining < r.amount]
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not taken:
        return out
    params = {"codes": sorted({r.institution_code for r in taken}), "ids": [str(r.id) for r in taken]}
    for t in await session.execute(_TAKES, params):
        out[int(t.deduction_id)].append(
            {"order_id": t.order_id, "settle_date": t.settle_date.isoformat(), "amount": to_wire(int(t.amount))}
        )
    return out


async def list_page(
    session: AsyncSession,
    *,
    scope: str | None = None,
    institution_code: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Newest first (keyset on id). ``scope`` = the institution asking: its own deductions only,
    whatever ``institution_code`` it passes; staff may filter by ``institution_code``."""
    stmt = select(DeductionRow)
    code = scope if scope is not None else institution_code
    if code:
        stmt = stmt.where(DeductionRow.institution_code == code)
    if kind:
        stmt = stmt.where(DeductionRow.kind == kind)
    if status is not None:
        if status not in STATUS_FILTERS:
            raise InvalidRequest(f"未知状态 {status} unknown status; one of {', '.join(STATUS_FILTERS)}")
        stmt = stmt.where(
            {
                "open": DeductionRow.remaining == DeductionRow.amount,
                "partial": (DeductionRow.remaining > 0) & (DeductionRow.remaining < DeductionRow.amount),
                "taken": DeductionRow.remaining == 0,
                "outstanding": DeductionRow.remaining > 0,
            }[status]
        )
    if cursor:
        stmt = stmt.where(DeductionRow.id < cursor)
    rows = list((await session.scalars(stmt.order_by(DeductionRow.id.desc()).limit(limit + 1))).all())
    page = rows[:limit]
    takes = await _takes(session, page)
    return {
        "items": [render(r, takes.get(r.id, [])) for r in page],
        "next_cursor": page[-1].id if len(rows) > limit else None,
    }
