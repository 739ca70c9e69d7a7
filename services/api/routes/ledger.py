"""The fund's ledger: manual journal entries (maker-checker), fiscal subsidies due from the treasury and
the income backfill (finance)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import RuntimeDep, UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS, fen
from api.schemas.ledger import BackfillRead, FiscalSubsidyCreate, FiscalSubsidyRead, JournalCreate, JournalRead
from yibao.auth.tokens import StaffPrincipal
from yibao.ledger import fiscal, income, journals
from yibao.money import to_wire

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger 基金账务"])
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]


@router.post(
    "/journals",
    status_code=201,
    response_model=JournalRead,
    responses=ERRORS,
    summary="Propose a manual journal entry (interest, fiscal subsidy, other income or spending)",
    description="Nothing is posted until another finance user approves it.",
)
async def propose(body: JournalCreate, staff: Finance, uow: UowDep) -> Any:
    row = await journals.propose(
        uow,
        staff.actor,
        kind=body.kind,
        scheme=body.scheme,
        fund=body.fund,
        amount=fen(body.amount),
        business_date=body.business_date,
        reason=body.reason,
    )
    return JSON(journals.render(row), status_code=201)


@router.post(
    "/journals/{journal_id}/approve",
    response_model=JournalRead,
    responses=ERRORS,
    summary="Approve and post a manual entry (not by its maker: SAME_ACTOR)",
    description="Safe to retry: a posted entry is answered as it is and posted once.",
)
async def approve(journal_id: int, staff: Finance, uow: UowDep) -> Any:
    return JSON(journals.render(await journals.approve(uow, staff.actor, journal_id)))


@router.post(
    "/income/backfill",
    response_model=BackfillRead,
    responses=ERRORS,
    summary="Post every premium, refund, subsidy and contribution not posted yet (a second run posts nothing)",
)
async def backfill(staff: Finance, uow: UowDep) -> Any:
    done = await income.backfill_income(uow, staff.actor)
    return JSON({"premiums": done.premiums, "subsidies": done.subsidies, "contributions": done.contributions})


@router.post(
    "/fiscal-subsidies",
    response_model=FiscalSubsidyRead,
    responses=ERRORS,
    summary="Book a month's fiscal subsidy due from the treasury (1/12 of the yearly amount per enrolled resident)",
    description="Once per region and month: booking it again answers the first booking (`created: false`).",
)
async def fiscal_subsidy(body: FiscalSubsidyCreate, staff: Finance, uow: UowDep, runtime: RuntimeDep) -> Any:
    region = body.region or runtime.settings.home_region
    b = await fiscal.book_month(uow, staff.actor, region, body.year, body.month)
    return JSON(
        {
            "region": b.region,
            "month": b.month,
            "residents": b.residents,
            "amount": to_wire(b.amount),
            "business_date": b.business_date.isoformat(),
            "created": b.created,
        }
    )
