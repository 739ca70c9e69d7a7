"""Paying people (个人拨付): the daily order of approved reimbursement claims, maker-checked."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from api.deps import UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS, Strict, csv_file
from yibao.auth.tokens import StaffPrincipal
from yibao.payouts import persons

router = APIRouter(prefix="/api/v1/payouts/person-orders", tags=["payouts 拨付"])
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]


class PersonOrderCreate(Strict):
    batch_date: date


class TransferReturned(Strict):
    claim_id: Annotated[str, Field(max_length=40)]
    reason: Annotated[str, Field(min_length=1, max_length=500, examples=["账户已销户 account closed"])]


class PersonOrderRead(BaseModel):
    id: int
    batch_date: date
    state: str
    total: str
    line_count: int
    prepared_by: str
    approved_by: str | None
    paid_by: str | None
    paid_at: str | None
    bank_file_sha256: str | None
    lines: list[dict[str, Any]] | None = None


@router.post(
    "",
    status_code=201,
    response_model=PersonOrderRead,
    responses=ERRORS,
    summary="Prepare the day's order of approved claims (finance)",
    description="Takes every approved claim not yet in an order; re-running a day answers its order (200). "
    "Nothing to pay is `INVALID_STATE` (409).",
)
async def prepare(body: PersonOrderCreate, staff: Finance, uow: UowDep) -> Any:
    order, created = await persons.prepare_order(uow, staff.actor, body.batch_date)
    return JSON(order, status_code=201 if created else 200)


@router.get("/{order_id}", response_model=PersonOrderRead, responses=ERRORS, summary="One order with its lines")
async def get_order(order_id: int, _: Finance, uow: UowDep) -> Any:
    return JSON(await persons.read(uow, order_id))


@router.post(
    "/{order_id}/approve",
    response_model=PersonOrderRead,
    responses=ERRORS,
    summary="Approve (finance, not the preparer)",
)
async def approve(order_id: int, staff: Finance, uow: UowDep) -> Any:
    return JSON(await persons.approve_order(uow, staff.actor, order_id))


@router.post(
    "/{order_id}/pay", response_model=PersonOrderRead, responses=ERRORS, summary="Pay: bank file + postings, final"
)
async def pay(order_id: int, staff: Finance, uow: UowDep) -> Any:
    return JSON(await persons.pay_order(uow, staff.actor, order_id))


@router.get(
    "/{order_id}/bank-file",
    response_class=Response,
    responses=csv_file("CSV: one row per person payee, then the control total line"),
    summary="The paid order's bank file (CSV, control total last)",
)
async def bank_file(order_id: int, _: Finance, uow: UowDep) -> Response:
    return Response(await persons.bank_file_of(uow, order_id), media_type="text/csv")


@router.post(
    "/{order_id}/returns",
    response_model=PersonOrderRead,
    responses=ERRORS,
    summary="A transfer the bank returned: owed to the person again, paid once the payee is corrected",
    description="The paid order and its bank file stay final; the line shows `returned_at`. The claim becomes "
    "`transfer_returned` until `POST /api/v1/reimbursements/{id}/payee` corrects the payee; the next order pays it.",
)
async def transfer_returned(order_id: int, body: TransferReturned, staff: Finance, uow: UowDep) -> Any:
    return JSON(await persons.return_transfer(uow, staff.actor, order_id, body.claim_id, body.reason))
