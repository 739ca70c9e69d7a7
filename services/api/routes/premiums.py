"""Staff and channel API for resident premiums: record a payment, refund it, subsidy totals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import RefsDep, SessionDep, UowDep, require_staff
from api.schemas.common import ERRORS, YearQuery, fen
from api.schemas.members import PaymentRead
from api.schemas.premiums import PaymentCreate, SubsidyTotal, SubsidyTotals
from yibao.auth.tokens import StaffPrincipal
from yibao.money import to_wire
from yibao.premiums import service as premiums

router = APIRouter(prefix="/api/v1/premiums", tags=["premiums 缴费"], responses=ERRORS)
Cashier = Annotated[StaffPrincipal, Depends(require_staff("clerk", "finance"))]


@router.post(
    "/payments",
    status_code=201,
    response_model=PaymentRead,
    summary="Record a premium payment from a channel (idempotent on channel + reference)",
    description="Creates or updates the year's resident enrolment with the derived coverage start and its reason. "
    "The amount must equal premium − subsidy for the groups valid on `paid_on`.",
)
async def record_payment(body: PaymentCreate, staff: Cashier, uow: UowDep, refs: RefsDep) -> PaymentRead:
    paid = await premiums.pay(
        uow,
        staff.actor,
        body.id_number,
        body.year,
        channel=body.channel,
        reference=body.reference,
        amount=fen(body.amount),
        policies=refs.policies,
        paid_on=body.paid_on,
        agent=body.agent,
    )
    return PaymentRead.of(paid.payment, paid.person.id_number, paid.created, paid.enrolment)


@router.post(
    "/payments/{payment_id}/refund",
    response_model=PaymentRead,
    summary="Refund a payment before its coverage year starts",
)
async def refund(payment_id: int, staff: Cashier, uow: UowDep) -> PaymentRead:
    refunded = await premiums.refund(uow, staff.actor, payment_id)
    return PaymentRead.of(refunded.payment, refunded.person.id_number)


@router.get("/subsidies", response_model=SubsidyTotals, summary="Subsidies booked to the assistance fund, per group")
async def subsidies(year: YearQuery, _: Cashier, session: SessionDep) -> SubsidyTotals:
    rows = await premiums.subsidy_totals(session, year)
    return SubsidyTotals(year=year, items=[SubsidyTotal(group=g, people=n, amount=to_wire(a)) for g, n, a in rows])
