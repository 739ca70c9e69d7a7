"""Staff and channel API for resident premiums: quote, record a payment, refund it, subsidy totals."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import RefsDep, SessionDep, UowDep, require_staff
from api.schemas.common import ERRORS, FIRST_DAY, LAST_DAY, YearQuery, fen
from api.schemas.members import PaymentRead, PremiumDue
from api.schemas.premiums import PaymentCreate, SubsidyTotal, SubsidyTotals
from yibao.auth.tokens import StaffPrincipal
from yibao.money import to_wire
from yibao.premiums import service as premiums

router = APIRouter(prefix="/api/v1/premiums", tags=["premiums 缴费"], responses=ERRORS)
Cashier = Annotated[StaffPrincipal, Depends(require_staff("clerk", "finance"))]


@router.get(
    "/due",
    response_model=PremiumDue,
    summary="Quote a premium: what is due, when coverage would start, and why a payment would be refused",
    description="For a payment made on `paid_on` (default today). `payable: false` lists in `warnings` the "
    "codes `POST /payments` would answer with (e.g. `ALREADY_ENROLLED`, `COVERAGE_CANNOT_START`).",
)
async def quote(
    id_number: Annotated[str, Query(max_length=18)],
    year: YearQuery,
    _: Cashier,
    session: SessionDep,
    refs: RefsDep,
    paid_on: Annotated[
        date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="the day the channel took the money; default today")
    ] = None,
) -> PremiumDue:
    return PremiumDue.of(await premiums.due(session, id_number, year, paid_on, refs.policies))


@router.post(
    "/payments",
    status_code=201,
    response_model=PaymentRead,
    summary="Record a premium payment from a channel (idempotent on channel + reference)",
    description="Creates the year's resident enrolment with the derived coverage start and its reason; a pay-back "
    "shortens the wait of a later enrolment whose coverage has not begun. The amount must equal premium − "
    "subsidy for the groups valid on `paid_on`. Refused, with nothing written: `PAID_ON_IN_FUTURE`, "
    "`PERSON_DECEASED`, `PREMIUM_ALREADY_PAID`, `ALREADY_ENROLLED` (an enrolment is never rewritten), "
    "`PAYBACK_BEFORE_FIRST_ENROLMENT`, `COVERAGE_CANNOT_START` (the wait would end after the year), "
    "`IDEMPOTENCY_CONFLICT` (the channel's reference was used for another request).",
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
    summary="Refund a payment before its coverage year starts (or one whose coverage could never start in its year)",
)
async def refund(payment_id: int, staff: Cashier, uow: UowDep) -> PaymentRead:
    refunded = await premiums.refund(uow, staff.actor, payment_id)
    return PaymentRead.of(refunded.payment, refunded.person.id_number)


@router.get("/subsidies", response_model=SubsidyTotals, summary="Subsidies booked to the assistance fund, per group")
async def subsidies(year: YearQuery, _: Cashier, session: SessionDep) -> SubsidyTotals:
    rows = await premiums.subsidy_totals(session, year)
    return SubsidyTotals(year=year, items=[SubsidyTotal(group=g, people=n, amount=to_wire(a)) for g, n, a in rows])
