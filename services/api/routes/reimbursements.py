"""Manual reimbursement claims (零星报销): the clerk's counter and review queue, and the member app.

Filing requires `Idempotency-Key` (per requester): the same key and body answer the first
claim (`Idempotent-Replayed: true`), another body under the key is `IDEMPOTENCY_CONFLICT`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response

from api.deps import CurrentMember, RefsDep, SessionDep, UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS
from api.schemas.reimbursements import (
    EXAMPLE_CLAIM,
    ClaimCreate,
    ClaimPage,
    ClaimRead,
    MemberClaimCreate,
    PayeeIn,
    Reason,
    Resubmission,
)
from yibao.auth.tokens import StaffPrincipal
from yibao.claims import service

router = APIRouter(prefix="/api/v1/reimbursements", tags=["reimbursements 零星报销"])
member_router = APIRouter(prefix="/api/v1/me/reimbursements", tags=["member app 参保人"])

Clerk = Annotated[StaffPrincipal, Depends(require_staff("clerk"))]
Reviewer = Annotated[StaffPrincipal, Depends(require_staff("first_reviewer", "second_reviewer"))]
AnyStaff = Annotated[StaffPrincipal, Depends(require_staff("clerk", "first_reviewer", "second_reviewer", "finance"))]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200, examples=["MR-counter-20261203-01"])]

FILE_DOC = (
    "Requires `Idempotency-Key`. Refused: `INVOICE_ALREADY_CLAIMED` (409), `VISIT_SETTLED_IN_REAL_TIME` (409), "
    "`SERVICE_BEFORE_COVERAGE`, `PERSON_DECEASED` (care after death), `CLAIM_TOO_OLD`, `NOT_ENROLLED` (422). "
    "The answer carries the fund amount the claim would pay now, the approvals its tier needs and the due date "
    "(`due_working_days` working days after receipt; weekends and holidays of data/reference/holidays.csv skipped)."
)


def _created(body: bytes, replayed: bool) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(body, status_code=201, headers=headers, media_type="application/json")


@router.post(
    "", status_code=201, response_model=ClaimRead, responses=ERRORS, summary="File a claim (受理)", description=FILE_DOC
)
async def file_claim(
    body: Annotated[ClaimCreate, Body(openapi_examples={"cross_region": {"value": EXAMPLE_CLAIM}})],
    staff: Clerk,
    uow: UowDep,
    refs: RefsDep,
    idempotency_key: IdemKey = None,
) -> Any:
    cmd = body.to_command(body.id_number, body.channel)
    return _created(*await service.file_claim(uow, staff.actor, refs, cmd, idempotency_key))


@router.get("", response_model=ClaimPage, responses=ERRORS, summary="The queue: claims by status, oldest due first")
async def queue(
    _: AnyStaff,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=20, examples=["received"])] = None,
    overdue: Annotated[bool, Query(description="only claims still awaiting a decision after their due date")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    return JSON(await service.queue(session, status=status, overdue=overdue, limit=limit))


@router.get("/{claim_id}", response_model=ClaimRead, responses=ERRORS, summary="One claim with every step")
async def get_claim(claim_id: str, _: AnyStaff, session: SessionDep) -> Any:
    return JSON(await service.read(session, claim_id))


@router.post(
    "/{claim_id}/approve",
    response_model=ClaimRead,
    responses=ERRORS,
    summary="Approve the claim's next step (first review → second review → final approval)",
    description="The tier (`manual_reimbursement.approval_tiers`) on the fund amount decides how many steps: "
    "step 1 a first reviewer, step 2 a second reviewer, step 3 an admin. No one takes two steps of a claim, "
    "nor reviews a claim they filed (`SAME_ACTOR`). The last step settles the claim (`source = manual`).",
)
async def approve(claim_id: str, staff: Reviewer, uow: UowDep, refs: RefsDep) -> Any:
    return JSON(await service.approve(uow, staff.actor, staff.role, refs, claim_id))


@router.post("/{claim_id}/return", response_model=ClaimRead, responses=ERRORS, summary="Return for more material")
async def return_claim(claim_id: str, body: Reason, staff: Reviewer, uow: UowDep) -> Any:
    return JSON(await service.return_claim(uow, staff.actor, staff.role, claim_id, body.reason))


@router.post("/{claim_id}/reject", response_model=ClaimRead, responses=ERRORS, summary="Reject, with the reason")
async def reject(claim_id: str, body: Reason, staff: Reviewer, uow: UowDep) -> Any:
    return JSON(await service.reject(uow, staff.actor, staff.role, claim_id, body.reason))


@router.post(
    "/{claim_id}/resubmit",
    response_model=ClaimRead,
    responses=ERRORS,
    summary="Resubmit a returned claim with more material (due again from today)",
)
async def resubmit(claim_id: str, body: Resubmission, staff: Clerk, uow: UowDep, refs: RefsDep) -> Any:
    attachments = tuple(a.to_value() for a in body.attachments)
    return JSON(await service.resubmit(uow, staff.actor, claim_id, attachments, refs=refs))


@router.post(
    "/{claim_id}/payee",
    response_model=ClaimRead,
    responses=ERRORS,
    summary="Correct the payee (after a returned transfer: the claim is paid again in the next order)",
)
async def correct_payee(claim_id: str, body: PayeeIn, staff: Clerk, uow: UowDep) -> Any:
    return JSON(await service.correct_payee(uow, staff.actor, claim_id, body.to_value()))


# ---------------------------------------------------------------- member app


@member_router.post(
    "",
    status_code=201,
    response_model=ClaimRead,
    responses=ERRORS,
    summary="File my own claim (app)",
    description=FILE_DOC,
)
async def member_file_claim(
    body: MemberClaimCreate, member: CurrentMember, uow: UowDep, refs: RefsDep, idempotency_key: IdemKey = None
) -> Any:
    cmd = body.to_command("", "app")
    return _created(
        *await service.file_claim(uow, member.actor, refs, cmd, idempotency_key, member_person_id=member.person_id)
    )


@member_router.get("", response_model=ClaimPage, responses=ERRORS, summary="My claims")
async def member_claims(member: CurrentMember, session: SessionDep) -> Any:
    return JSON(await service.queue(session, person_id=member.person_id))


@member_router.get("/{claim_id}", response_model=ClaimRead, responses=ERRORS, summary="My claim with every step")
async def member_claim(claim_id: str, member: CurrentMember, session: SessionDep) -> Any:
    return JSON(await service.read(session, claim_id, person_id=member.person_id))


@member_router.post(
    "/{claim_id}/resubmit", response_model=ClaimRead, responses=ERRORS, summary="Resubmit my returned claim"
)
async def member_resubmit(claim_id: str, body: Resubmission, member: CurrentMember, uow: UowDep, refs: RefsDep) -> Any:
    attachments = tuple(a.to_value() for a in body.attachments)
    return JSON(await service.resubmit(uow, member.actor, claim_id, attachments, person_id=member.person_id, refs=refs))
