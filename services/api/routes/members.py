"""Member app API (参保人): `/api/v1/me/...`, authenticated as the insured person themselves.

A member names a relative with `?id_number=` (or `id_number` in the body); only relatives
bound to their account are visible, anyone else answers 404 `PERSON_NOT_FOUND`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.deps import CurrentMember, RefsDep, RuntimeDep, SessionDep, UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS, IdempotencyKey, YearPath, fen
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
    PaymentRead,
    PremiumDue,
    TokenRead,
)
from api.schemas.settlements import SettlementRead
from yibao.auth.tokens import StaffPrincipal
from yibao.members import service as members

router = APIRouter(prefix="/api/v1/me", tags=["member app 参保人"], responses=ERRORS)
staff_router = APIRouter(prefix="/api/v1", tags=["admin 经办"], responses=ERRORS)

ClerkUser = Annotated[StaffPrincipal, Depends(require_staff("clerk"))]
ForPerson = Annotated[str | None, Query(max_length=18, description="a bound relative's ID; default: me")]


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
    hours = runtime.settings.member_activation_hours
    person, code, expires = await members.issue_activation_code(uow, staff.actor, id_number, hours)
    return ActivationCodeRead(id_number=person.id_number, activation_code=code, expires_at=expires)


# ---------------------------------------------------------------- session


@router.post("/activate", status_code=201, response_model=TokenRead, summary="Exchange an activation code for a token")
async def activate(body: ActivateRequest, uow: UowDep, runtime: RuntimeDep) -> TokenRead:
    """The code works once; the token expires after `MEMBER_TOKEN_DAYS` (30) and can be revoked."""
    token, expires = await members.activate(uow, body.activation_code, runtime.settings.member_token_days)
    return TokenRead(token=token, expires_at=expires)


@router.post("/logout", status_code=204, summary="Revoke this token")
async def logout(member: CurrentMember, uow: UowDep) -> None:
    await members.logout(uow, member)


@router.get("", response_model=MeRead, summary="Me and the relatives bound to my account")
async def me(member: CurrentMember, session: SessionDep) -> MeRead:
    return MeRead.of(await members.me(session, member))


# ---------------------------------------------------------------- enrolment and premiums


@router.get(
    "/enrolments/{year}",
    response_model=EnrolmentStatus,
    summary="Enrolment status of a year: coverage start and why (waiting period reason)",
)
async def enrolment(
    year: YearPath, member: CurrentMember, session: SessionDep, id_number: ForPerson = None
) -> EnrolmentStatus:
    person, row = await members.enrolment(session, member, year, id_number)
    return EnrolmentStatus.of(person.id_number, year, row)


@router.get(
    "/premiums/{year:int}", response_model=PremiumDue, summary="Premium due today for a year (premium − subsidy)"
)
async def premium_due(
    year: YearPath, member: CurrentMember, session: SessionDep, refs: RefsDep, id_number: ForPerson = None
) -> PremiumDue:
    return PremiumDue.of(await members.premium_due(session, member, year, refs.policies, id_number))


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
    idempotency_key: IdempotencyKey,
) -> PaymentRead:
    paid = await members.pay_premium(
        uow,
        member,
        year=body.year,
        amount=fen(body.amount),
        source=body.source,
        payment_reference=body.payment_reference,
        raw_id=body.id_number,
        idempotency_key=idempotency_key,
        policies=refs.policies,
    )
    return PaymentRead.of(paid.payment, paid.person.id_number, paid.created, paid.enrolment)


@router.get("/premiums/payments", response_model=list[PaymentRead], summary="My (and my relatives') payments")
async def payments(member: CurrentMember, session: SessionDep) -> list[PaymentRead]:
    return [PaymentRead.of(p, id_number) for p, id_number in await members.payments(session, member)]


# ---------------------------------------------------------------- bills and account


@router.get("/settlements", response_model=MemberSettlements, summary="My bills with the full split of each")
async def my_settlements(member: CurrentMember, session: SessionDep, id_number: ForPerson = None) -> Any:
    return JSON({"items": await members.settlements(session, member, id_number)})


@router.get("/settlements/{settlement_id}", response_model=SettlementRead, summary="One of my bills")
async def my_settlement(
    settlement_id: str, member: CurrentMember, session: SessionDep, id_number: ForPerson = None
) -> Any:
    return JSON(await members.settlement(session, member, id_number, settlement_id))


@router.get("/account", response_model=AccountRead, summary="Personal account balance and movements")
async def my_account(member: CurrentMember, session: SessionDep, id_number: ForPerson = None) -> AccountRead:
    person, balance, moves = await members.account(session, member, id_number)
    return AccountRead.of(person.id_number, balance, moves)


# ---------------------------------------------------------------- family, filings, QR code


@router.post(
    "/family-bindings",
    status_code=201,
    response_model=BindingRequestRead,
    summary="Ask a relative to bind to my account (they confirm in their app)",
)
async def ask_binding(body: BindingAsk, member: CurrentMember, uow: UowDep) -> BindingRequestRead:
    binding = await members.ask_binding(uow, member, body.relative_id_number, body.relative_name, body.relation)
    return BindingRequestRead.of(binding)


@router.get("/family-bindings", response_model=list[BindingRequestRead], summary="Binding requests I made or got")
async def list_bindings(member: CurrentMember, session: SessionDep) -> list[BindingRequestRead]:
    return [BindingRequestRead.of(b) for b in await members.binding_requests(session, member)]


@router.post(
    "/family-bindings/{request_id}/{decision}",
    response_model=BindingRequestRead,
    summary="Confirm or reject a binding request addressed to me",
)
async def decide_binding(
    request_id: int, decision: Annotated[str, Path(pattern="^(confirm|reject)$")], member: CurrentMember, uow: UowDep
) -> BindingRequestRead:
    return BindingRequestRead.of(await members.decide_binding(uow, member, request_id, decision == "confirm"))


@router.post(
    "/filings",
    status_code=201,
    response_model=MemberFilingRead,
    summary="Apply for a cross-region filing (temporary: approved at once; long-term: queued for a clerk)",
)
async def apply_filing(body: MemberFilingCreate, member: CurrentMember, uow: UowDep) -> MemberFilingRead:
    row = await members.apply_filing(uow, member, body.id_number, body.to_region, body.valid_from, body.valid_to)
    return MemberFilingRead.of(row)


@router.get("/filings", response_model=list[MemberFilingRead], summary="My filings")
async def list_filings(
    member: CurrentMember, session: SessionDep, id_number: ForPerson = None
) -> list[MemberFilingRead]:
    return [MemberFilingRead.of(r) for r in await members.filings(session, member, id_number)]


@router.post(
    "/member-code",
    status_code=201,
    response_model=MemberCodeRead,
    summary="A fresh member QR code (医保码), valid 60 seconds, usable for one settlement",
)
async def member_code(
    member: CurrentMember, runtime: RuntimeDep, session: SessionDep, id_number: ForPerson = None
) -> MemberCodeRead:
    s = runtime.settings
    secret, seconds = s.member_code_secret.get_secret_value(), s.member_code_seconds
    code, expires = await members.member_code(session, member, id_number, secret, seconds)
    return MemberCodeRead(member_code=code, expires_at=expires)


@staff_router.post("/filings/{filing_id}/approve", summary="Approve a pending (long-term) filing")
async def approve_filing(filing_id: int, staff: ClerkUser, uow: UowDep) -> dict[str, Any]:
    row = await members.approve_filing(uow, staff.actor, filing_id)
    return {"filing_id": row.id, "status": row.status}
