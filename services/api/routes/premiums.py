"""Staff and channel API for resident premiums: record a payment, refund it, subsidy totals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import RefsDep, SessionDep, UowDep, require_staff
from api.routes.members import enrolment_status, payment_read
from api.schemas.common import ERRORS, YearQuery, fen
from api.schemas.members import PaymentRead
from api.schemas.premiums import PaymentCreate, SubsidyTotal, SubsidyTotals
from yibao.audit import Actor, record
from yibao.auth.tokens import StaffPrincipal
from yibao.money import to_wire
from yibao.people.orm import PersonRow
from yibao.people.repository import get_by_id_number
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
    person = await get_by_id_number(uow.session, body.id_number)
    paid = await premiums.pay(
        uow.session,
        person,
        body.year,
        channel=body.channel,
        reference=body.reference,
        amount=fen(body.amount),
        params=premiums.premium_params(refs.policies, person.region, body.year),
        paid_on=body.paid_on,
        agent=body.agent,
    )
    out = payment_read(
        paid.payment,
        person.id_number,
        paid.created,
        enrolment_status(person, body.year, paid.enrolment) if paid.enrolment else None,
    )
    if paid.created:
        await record(
            uow.session,
            Actor("staff", staff.name),
            "premium.payment.record",
            ("premium_payment", str(paid.payment.id)),
            {"channel": body.channel},
        )
    await uow.commit()
    return out


@router.post(
    "/payments/{payment_id}/refund",
    response_model=PaymentRead,
    summary="Refund a payment before its coverage year starts",
)
async def refund(payment_id: int, staff: Cashier, uow: UowDep) -> PaymentRead:
    row = await premiums.refund(uow.session, payment_id)
    person = await uow.session.get(PersonRow, row.person_id)
    await record(
        uow.session, Actor("staff", staff.name), "premium.payment.refund", ("premium_payment", str(row.id)), {}
    )
    out = payment_read(row, person.id_number if person else "")
    await uow.commit()
    return out


@router.get("/subsidies", response_model=SubsidyTotals, summary="Subsidies booked to the assistance fund, per group")
async def subsidies(year: YearQuery, _: Cashier, session: SessionDep) -> SubsidyTotals:
    rows = await premiums.subsidy_totals(session, year)
    return SubsidyTotals(year=year, items=[SubsidyTotal(group=g, people=n, amount=to_wire(a)) for g, n, a in rows])
