"""Maternity allowances (生育津贴, DOMAIN §10): created without application when an employee's
delivery (`maternity_inpatient`) is settled; one approval with the payee; paid by the next
person-payee order (`/api/v1/payouts/person-orders`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import CurrentMember, UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS, Strict
from yibao.auth.tokens import StaffPrincipal
from yibao.maternity import service as maternity

router = APIRouter(prefix="/api/v1/maternity-allowances", tags=["maternity 生育"])
member_router = APIRouter(prefix="/api/v1/me/maternity-allowances", tags=["member app 参保人"])
Staff = Annotated[StaffPrincipal, Depends(require_staff("clerk", "finance"))]
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]


class AllowancePayee(Strict):
    """The mother's own bank account (生育津贴直发个人)."""

    name: Annotated[str, Field(min_length=1, max_length=100, examples=["李四"])]
    bank: Annotated[str, Field(min_length=1, max_length=100, examples=["农业银行溆浦支行"])]
    account_no: Annotated[str, Field(pattern=r"^\d{8,30}$", examples=["6228480012345678901"])]


class AllowanceApprove(Strict):
    payee: AllowancePayee


class AllowanceRecovery(BaseModel):
    status: Literal["due", "recovered"]
    amount: str = Field(examples=["23520.00"])
    recovered_at: str | None
    recovered_by: str | None
    reference: str | None = Field(description="the receipt or bank reference finance recorded")


class RecoveryCreate(Strict):
    reference: Annotated[
        str, Field(min_length=1, max_length=100, examples=["HK20261204-0031"], description="receipt or bank reference")
    ]


class AllowanceRead(BaseModel):
    id: str
    allowance_no: str
    id_number: str = Field(description="masked")
    settlement_id: str = Field(description="the delivery bill")
    institution_code: str
    delivery_date: str
    delivery_type: str
    babies: int
    days: int = Field(description="98, +15 caesarean, +15 per extra baby (policy `maternity.allowance`)")
    months_contributed: int = Field(description="months with contributions in the lookback window before delivery")
    average_base: str = Field(description="the employer's average monthly contribution base, last 12 months")
    daily_amount: str = Field(description="average base ÷ 30, half-up to the fen")
    amount: str
    eligible: bool
    reason: str | None = Field(description="why not eligible")
    flags: list[str] = Field(
        description="review flags: `contributions_began_recently`, `employer_has_no_other_contributor`"
    )
    status: Literal["pending", "approved", "paid", "ineligible", "void"]
    policy_version: str
    payee: dict[str, str] | None
    approved_by: str | None
    approved_at: str | None
    paid_order_id: int | None
    paid_at: str | None
    created_at: str
    delivery_cancelled_at: str | None = Field(description="the delivery bill was cancelled (void, or owed back)")
    recovery: AllowanceRecovery | None = Field(
        description="paid before its delivery bill was cancelled: the amount owed back, `due` until recorded"
    )


@router.get("", response_model=list[AllowanceRead], responses=ERRORS, summary="Allowances (newest first)")
async def listing(
    _: Staff,
    uow: UowDep,
    status: Annotated[Literal["pending", "approved", "paid", "ineligible", "void"] | None, Query()] = None,
    id_number: Annotated[str | None, Query(max_length=18)] = None,
    recovery: Annotated[
        Literal["due", "recovered"] | None,
        Query(description="`due`: paid, then the delivery bill was cancelled, not yet paid back"),
    ] = None,
) -> Any:
    return JSON(await maternity.listing(uow, status=status, id_number=id_number, recovery=recovery))


@router.get("/{allowance_id}", response_model=AllowanceRead, responses=ERRORS, summary="One allowance")
async def read(allowance_id: str, _: Staff, uow: UowDep) -> Any:
    return JSON(await maternity.read(uow, allowance_id))


@router.post(
    "/{allowance_id}/approve",
    response_model=AllowanceRead,
    responses=ERRORS,
    summary="Approve a pending allowance with the mother's bank account (one approval)",
    description="pending → approved; the next person-payee order pays it. Not pending (ineligible, void, paid) "
    "is `INVALID_STATE` (409); approving an approved allowance again answers it as it is.",
)
async def approve(allowance_id: str, body: AllowanceApprove, staff: Staff, uow: UowDep) -> Any:
    return JSON(await maternity.approve(uow, staff.actor, allowance_id, body.payee.model_dump()))


@router.post(
    "/{allowance_id}/recovery",
    response_model=AllowanceRead,
    responses=ERRORS,
    summary="Record that an allowance paid before its delivery bill was cancelled was paid back (finance)",
    description="The maternity fund's spending is reversed once (`bank ← claims`), audited. Recording it again "
    "answers the allowance as it is; an allowance with nothing owed back is `INVALID_STATE` (409).",
)
async def record_recovery(allowance_id: str, body: RecoveryCreate, staff: Finance, uow: UowDep) -> Any:
    return JSON(await maternity.record_recovery(uow, staff.actor, allowance_id, body.reference))


@member_router.get("", response_model=list[AllowanceRead], responses=ERRORS, summary="My maternity allowances")
async def member_list(member: CurrentMember, uow: UowDep) -> Any:
    return JSON(await maternity.listing(uow, person_id=member.person_id))


@member_router.get("/{allowance_id}", response_model=AllowanceRead, responses=ERRORS, summary="One of mine")
async def member_read(allowance_id: str, member: CurrentMember, uow: UowDep) -> Any:
    return JSON(await maternity.read(uow, allowance_id, person_id=member.person_id))
