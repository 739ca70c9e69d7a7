"""Member app API (参保人): `/api/v1/me/...`, authenticated as the insured person themselves.

A member names a relative with `?id_number=` (or `id_number` in the body); only relatives
bound to their account are visible, anyone else answers 404 `PERSON_NOT_FOUND`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query
from sqlalchemy import select

from api.deps import CurrentMember, RefsDep, RuntimeDep, SessionDep, UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS, YearPath, fen
from api.schemas.members import (
    AccountRead,
    ActivateRequest,
    ActivationCodeRead,
    BindingAsk,
    BindingRequestRead,
    EnrolmentStatus,
    MemberCodeRead,
    MemberFilingCreate,
    MemberFilingRead,
    MemberPayRequest,
    MemberSettlements,
    MeRead,
    MovementRead,
    PaymentRead,
    PremiumDue,
    RelativeRead,
    TokenRead,
)
from api.schemas.settlements import SettlementRead
from yibao import clock
from yibao.audit import Actor, record
from yibao.auth.tokens import StaffPrincipal
from yibao.enrolment.orm import EnrolmentRow
from yibao.errors import InvalidRequest
from yibao.members import auth, codes
from yibao.members import service as members
from yibao.members.orm import BindingRequestRow
from yibao.money import to_wire
from yibao.people.orm import PersonRow
from yibao.people.repository import get_by_id_number
from yibao.premiums import service as premiums
from yibao.premiums.orm import PremiumPaymentRow

router = APIRouter(prefix="/api/v1/me", tags=["member app 参保人"], responses=ERRORS)
staff_router = APIRouter(prefix="/api/v1", tags=["admin 经办"], responses=ERRORS)

ClerkUser = Annotated[StaffPrincipal, Depends(require_staff("clerk"))]
ForPerson = Annotated[str | None, Query(max_length=18, description="a bound relative's ID; default: me")]


def enrolment_status(
    person: PersonRow, year: int, row: EnrolmentRow | None, scheme: str = "resident"
) -> EnrolmentStatus:
    return EnrolmentStatus(
        id_number=person.id_number,
        year=year,
        scheme=row.scheme if row else scheme,
        enrolled=row is not None,
        coverage_start=row.coverage_start if row else None,
        coverage_reason=row.coverage_reason if row else None,
        coverage_detail=row.coverage_detail if row else None,
        waiting_months=row.waiting_months if row else 0,
        continuous_years=row.continuous_years if row else 0,
        zero_claim_credit=to_wire(row.zero_claim_credit if row else 0),
    )


def payment_read(
    p: PremiumPaymentRow, id_number: str, created: bool = True, enrolment: EnrolmentStatus | None = None
) -> PaymentRead:
    return PaymentRead(
        payment_id=p.id,
        id_number=id_number,
        year=p.year,
        kind=p.kind,
        channel=p.channel,
        reference=p.reference,
        premium=to_wire(p.premium),
        subsidy=to_wire(p.subsidy),
        subsidy_group=p.subsidy_group,
        amount=to_wire(p.amount),
        paid_on=p.paid_on,
        status=p.status,
        created=created,
        enrolment=enrolment,
    )


# ---------------------------------------------------------------- staff: activation codes


@staff_router.post(
    "/persons/{id_number}/activation-codes",
    status_code=201,
    response_model=ActivationCodeRead,
    summary="Issue a single-use member-app activation code (shown once)",
)
async def issue_activation_code(
    id_number: str, staff: ClerkUser, uow: UowDep, runtime: RuntimeDep
) -> ActivationCodeRead:
    person = await get_by_id_number(uow.session, id_number)
    code, expires = await auth.issue_activation_code(
        uow.session, person.id, staff.name, runtime.settings.member_activation_hours
    )
    await record(
        uow.session, Actor("staff", staff.name), "member.activation_code.issue", ("person", str(person.id)), {}
    )
    await uow.commit()
    return ActivationCodeRead(id_number=person.id_number, activation_code=code, expires_at=expires)


# ---------------------------------------------------------------- session


@router.post("/activate", status_code=201, response_model=TokenRead, summary="Exchange an activation code for a token")
async def activate(body: ActivateRequest, uow: UowDep, runtime: RuntimeDep) -> TokenRead:
    """The code works once; the token expires after `MEMBER_TOKEN_DAYS` (30) and can be revoked."""
    token, _, expires = await auth.activate(uow.session, body.activation_code, runtime.settings.member_token_days)
    await uow.commit()
    return TokenRead(token=token, expires_at=expires)


@router.post("/logout", status_code=204, summary="Revoke this token")
async def logout(member: CurrentMember, uow: UowDep) -> None:
    await auth.revoke(uow.session, member.token_id)
    await uow.commit()


@router.get("", response_model=MeRead, summary="Me and the relatives bound to my account")
async def me(member: CurrentMember, session: SessionDep) -> MeRead:
    p = await members.visible_person(session, member.person_id, None)
    rel = await members.relatives(session, p.id)
    return MeRead(
        id_number=p.id_number,
        name=p.name,
        region=p.region,
        birth_date=p.birth_date,
        gender=p.gender,
        relatives=[RelativeRead(id_number=r.id_number, name=r.name, relation=rel_) for r, rel_ in rel],
    )


# ---------------------------------------------------------------- enrolment and premiums


@router.get(
    "/enrolments/{year}",
    response_model=EnrolmentStatus,
    summary="Enrolment status of a year: coverage start and why (waiting period reason)",
)
async def enrolment(
    year: YearPath, member: CurrentMember, session: SessionDep, id_number: ForPerson = None
) -> EnrolmentStatus:
    person = await members.visible_person(session, member.person_id, id_number)
    row = await premiums.enrolment_for(session, person.id, year)
    if row is None:
        row = await session.scalar(
            select(EnrolmentRow).where(EnrolmentRow.person_id == person.id, EnrolmentRow.year == year)
        )
    return enrolment_status(person, year, row)


@router.get(
    "/premiums/{year:int}", response_model=PremiumDue, summary="Premium due today for a year (premium − subsidy)"
)
async def premium_due(
    year: YearPath, member: CurrentMember, session: SessionDep, refs: RefsDep, id_number: ForPerson = None
) -> PremiumDue:
    person = await members.visible_person(session, member.person_id, id_number)
    q = await premiums.quote(
        session, person, year, clock.today(), premiums.premium_params(refs.policies, person.region, year)
    )
    paid = any(p.year == year and p.status == "paid" for p in await premiums.payments_of(session, [person.id]))
    return PremiumDue(
        id_number=person.id_number,
        year=year,
        kind=q.kind,
        premium=to_wire(q.premium),
        subsidy=to_wire(q.subsidy),
        subsidy_group=q.subsidy_group,
        due=to_wire(q.due),
        window_from=q.window_from,
        window_to=q.window_to,
        paid=paid,
    )


@router.post(
    "/premiums/payments",
    status_code=201,
    response_model=PaymentRead,
    summary="Pay a premium for me or a bound relative (app cash gateway or personal account)",
    description="Requires `Idempotency-Key`; a retry returns the first payment (`created: false`). "
    "The answer carries the derived enrolment: coverage start and its reason.",
)
async def pay(
    body: MemberPayRequest,
    member: CurrentMember,
    uow: UowDep,
    refs: RefsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)] = None,
) -> PaymentRead:
    if not idempotency_key:
        raise InvalidRequest("缺少 Idempotency-Key 请求头 the Idempotency-Key header is required")
    s = uow.session
    person = await members.visible_person(s, member.person_id, body.id_number)
    payer = await members.visible_person(s, member.person_id, None)
    if body.source == "app":
        if not body.payment_reference:
            raise InvalidRequest("source=app needs the gateway's payment_reference")
        channel, reference = "app", body.payment_reference
    else:
        channel, reference = "account", f"M{payer.id}:{idempotency_key}"
    paid = await premiums.pay(
        s,
        person,
        body.year,
        channel=channel,
        reference=reference,
        amount=fen(body.amount),
        params=premiums.premium_params(refs.policies, person.region, body.year),
        payer=payer,
    )
    out = payment_read(
        paid.payment,
        person.id_number,
        paid.created,
        enrolment_status(person, body.year, paid.enrolment) if paid.enrolment else None,
    )
    await uow.commit()
    return out


@router.get("/premiums/payments", response_model=list[PaymentRead], summary="My (and my relatives') payments")
async def payments(member: CurrentMember, session: SessionDep) -> list[PaymentRead]:
    me_ = await members.visible_person(session, member.person_id, None)
    people = {me_.id: me_.id_number} | {r.id: r.id_number for r, _ in await members.relatives(session, me_.id)}
    return [payment_read(p, people[p.person_id]) for p in await premiums.payments_of(session, list(people))]


# ---------------------------------------------------------------- bills and account


@router.get("/settlements", response_model=MemberSettlements, summary="My bills with the full split of each")
async def my_settlements(member: CurrentMember, session: SessionDep, id_number: ForPerson = None) -> Any:
    person = await members.visible_person(session, member.person_id, id_number)
    return JSON({"items": await members.settlements(session, person.id)})


@router.get("/settlements/{settlement_id}", response_model=SettlementRead, summary="One of my bills")
async def my_settlement(
    settlement_id: str, member: CurrentMember, session: SessionDep, id_number: ForPerson = None
) -> Any:
    person = await members.visible_person(session, member.person_id, id_number)
    return JSON(await members.settlement(session, person.id, settlement_id))


@router.get("/account", response_model=AccountRead, summary="Personal account balance and movements")
async def my_account(member: CurrentMember, session: SessionDep, id_number: ForPerson = None) -> AccountRead:
    person = await members.visible_person(session, member.person_id, id_number)
    balance, moves = await members.account(session, person.id)
    return AccountRead(
        id_number=person.id_number,
        balance=to_wire(balance),
        movements=[
            MovementRead(amount=to_wire(m.amount), kind=m.kind, reference=m.reference, at=m.created_at) for m in moves
        ],
    )


# ---------------------------------------------------------------- family, filings, QR code


def _binding(r: BindingRequestRow, ids_: dict[int, str]) -> BindingRequestRead:
    return BindingRequestRead(
        request_id=r.id,
        holder_id_number=ids_.get(r.holder_person_id, ""),
        relative_id_number=ids_.get(r.relative_person_id, ""),
        relation=r.relation,
        status=r.status,
    )


async def _id_numbers(session: Any, person_ids: set[int]) -> dict[int, str]:
    rows = await session.execute(select(PersonRow.id, PersonRow.id_number).where(PersonRow.id.in_(person_ids)))
    return {int(i): str(n) for i, n in rows.all()}


@router.post(
    "/family-bindings",
    status_code=201,
    response_model=BindingRequestRead,
    summary="Ask a relative to bind to my account (they confirm in their app)",
)
async def ask_binding(body: BindingAsk, member: CurrentMember, uow: UowDep) -> BindingRequestRead:
    row = await members.ask_binding(
        uow.session, member.person_id, body.relative_id_number, body.relative_name, body.relation
    )
    out = _binding(row, await _id_numbers(uow.session, {row.holder_person_id, row.relative_person_id}))
    await uow.commit()
    return out


@router.get("/family-bindings", response_model=list[BindingRequestRead], summary="Binding requests I made or got")
async def list_bindings(member: CurrentMember, session: SessionDep) -> list[BindingRequestRead]:
    rows = await members.binding_requests(session, member.person_id)
    ids_ = await _id_numbers(session, {p for r in rows for p in (r.holder_person_id, r.relative_person_id)})
    return [_binding(r, ids_) for r in rows]


@router.post(
    "/family-bindings/{request_id}/{decision}",
    response_model=BindingRequestRead,
    summary="Confirm or reject a binding request addressed to me",
)
async def decide_binding(
    request_id: int, decision: Annotated[str, Path(pattern="^(confirm|reject)$")], member: CurrentMember, uow: UowDep
) -> BindingRequestRead:
    row = await members.decide_binding(uow.session, member.person_id, request_id, decision == "confirm")
    out = _binding(row, await _id_numbers(uow.session, {row.holder_person_id, row.relative_person_id}))
    await record(
        uow.session,
        Actor("member", str(member.person_id)),
        f"family_binding.{decision}",
        ("binding_request", str(row.id)),
        {},
    )
    await uow.commit()
    return out


@router.post(
    "/filings",
    status_code=201,
    response_model=MemberFilingRead,
    summary="Apply for a cross-region filing (temporary: approved at once; long-term: queued for a clerk)",
)
async def apply_filing(body: MemberFilingCreate, member: CurrentMember, uow: UowDep) -> MemberFilingRead:
    person = await members.visible_person(uow.session, member.person_id, body.id_number)
    row = await members.apply_filing(uow.session, person, body.to_region, body.valid_from, body.valid_to)
    out = MemberFilingRead(
        filing_id=row.id,
        to_region=row.to_region,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        kind=members.filing_kind(row.valid_from, row.valid_to),  # type: ignore[arg-type]
        status=row.status,
    )
    await uow.commit()
    return out


@router.get("/filings", response_model=list[MemberFilingRead], summary="My filings")
async def list_filings(
    member: CurrentMember, session: SessionDep, id_number: ForPerson = None
) -> list[MemberFilingRead]:
    person = await members.visible_person(session, member.person_id, id_number)
    return [
        MemberFilingRead(
            filing_id=r.id,
            to_region=r.to_region,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            kind=members.filing_kind(r.valid_from, r.valid_to),
            status=r.status,
        )  # type: ignore[arg-type]
        for r in await members.filings(session, person.id)
    ]


@router.post(
    "/member-code",
    status_code=201,
    response_model=MemberCodeRead,
    summary="A fresh member QR code (医保码), valid 60 seconds, usable for one settlement",
)
async def member_code(
    member: CurrentMember, runtime: RuntimeDep, session: SessionDep, id_number: ForPerson = None
) -> MemberCodeRead:
    person = await members.visible_person(session, member.person_id, id_number)
    s = runtime.settings
    code, expires = codes.issue(person.id, s.member_code_secret.get_secret_value(), s.member_code_seconds)
    return MemberCodeRead(member_code=code, expires_at=expires)


@staff_router.post("/filings/{filing_id}/approve", summary="Approve a pending (long-term) filing")
async def approve_filing(filing_id: int, staff: ClerkUser, uow: UowDep) -> dict[str, Any]:
    row = await members.approve_filing(uow.session, filing_id)
    await record(uow.session, Actor("staff", staff.name), "filing.approve", ("filing", str(row.id)), {})
    await uow.commit()
    return {"filing_id": row.id, "status": row.status}
