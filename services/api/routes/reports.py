"""Fund reports from the ledger: per day or month and fund, claims, recoveries, paid out, balance."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import SessionDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS
from yibao.auth.tokens import StaffPrincipal
from yibao.ledger import reports
from yibao.ledger.reports import Period

router = APIRouter(prefix="/api/v1/reports", tags=["reports 报表"])
Staff = Annotated[StaffPrincipal, Depends(require_staff("finance", "inspector"))]


@router.get("/funds", responses=ERRORS, summary="Per period and fund: spending, income (recoveries), paid out, payable")
async def funds(
    _: Staff,
    session: SessionDep,
    date_from: Annotated[date, Query(alias="from")],
    date_to: Annotated[date, Query(alias="to")],
    period: Period = "day",
) -> Any:
    return JSON(await reports.funds(session, date_from, date_to, period))
