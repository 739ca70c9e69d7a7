"""Fund reports from the ledger: per day or month and fund, claims, recoveries, paid out, balance."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import text

from api.deps import SessionDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS
from yibao.auth.tokens import StaffPrincipal
from yibao.errors import InvalidRequest
from yibao.money import to_wire

router = APIRouter(prefix="/api/v1/reports", tags=["reports 报表"])
Staff = Annotated[StaffPrincipal, Depends(require_staff("finance", "inspector"))]

_SQL = """
SELECT date_trunc(:unit, business_date)::date AS period, fund,
       COALESCE(SUM(amount) FILTER (WHERE account = 'claims'), 0)::bigint AS spending,
       COALESCE(-SUM(amount) FILTER (WHERE account IN ('recoveries', 'supplier', 'prepayment')
                                     AND movement IN ('deduction', 'prepayment_recovery')), 0)::bigint AS income,
       COALESCE(-SUM(amount) FILTER (WHERE account = 'bank'), 0)::bigint AS paid_out,
       COALESCE(-SUM(amount) FILTER (WHERE account = 'payable'), 0)::bigint AS payable_change
FROM ledger_postings
WHERE business_date >= :from AND business_date <= :to
GROUP BY 1, 2 ORDER BY 1, 2
"""


@router.get("/funds", responses=ERRORS, summary="Per period and fund: spending, income (recoveries), paid out, payable")
async def funds(
    _: Staff,
    session: SessionDep,
    date_from: Annotated[date, Query(alias="from")],
    date_to: Annotated[date, Query(alias="to")],
    period: Literal["day", "month"] = "day",
) -> Any:
    if date_to < date_from or (date_to - date_from).days > 800:
        raise InvalidRequest("日期范围无效 `to` must be on or after `from`, at most 800 days")
    rows = await session.execute(text(_SQL), {"unit": period, "from": date_from, "to": date_to})
    items = [
        {
            "period": r.period.isoformat() if period == "day" else r.period.isoformat()[:7],
            "fund": r.fund,
            "spending": to_wire(r.spending),
            "income": to_wire(r.income),
            "paid_out": to_wire(r.paid_out),
            "payable_change": to_wire(r.payable_change),
        }
        for r in rows
    ]
    return JSON({"period": period, "items": items})
