"""Chronic and special outpatient disease recognitions (门慢门特认定, DOMAIN §9).

A recognition gates the chronic tier: a `chronic_outpatient` bill is paid only under an approved
recognition of its disease valid on the service date (else `CHRONIC_NOT_RECOGNISED`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Response

from api.deps import CurrentMember, Reader, RefsDep, SessionDep, UowDep, require_staff
from api.responses import JSON
from api.schemas.chronic import (
    EXAMPLE_APPLICATION,
    MemberRecognitionCreate,
    Reason,
    RecognitionCreate,
    RecognitionPage,
    RecognitionRead,
)
from api.schemas.common import ERRORS
from yibao import audit
from yibao.auth.tokens import StaffPrincipal
from yibao.chronic import service
from yibao.institutions.agreements import Institution

router = APIRouter(prefix="/api/v1/chronic-recognitions", tags=["chronic diseases 门慢门特"])
member_router = APIRouter(prefix="/api/v1/me/chronic-recognitions", tags=["member app 参保人"])

Reviewer = Annotated[StaffPrincipal, Depends(require_staff("first_reviewer", "second_reviewer"))]
Admin = Annotated[StaffPrincipal, Depends(require_staff("admin"))]
AnyStaff = Annotated[
    StaffPrincipal, Depends(require_staff("clerk", "first_reviewer", "second_reviewer", "inspector", "finance"))
]


@router.post(
    "",
    status_code=201,
    response_model=RecognitionRead,
    responses=ERRORS,
    summary="Apply for a recognition (认定申请)",
    description="A clerk (staff token) or a hospital (its institution key) files the person's application "
    "for a disease of the policy's `chronic_diseases`, with "
    "the diagnosis (ICD-10 under the disease's prefixes, else `INVALID_REQUEST`) and evidence references. One "
    "application of a disease under review per person (`DUPLICATE`, 409).",
)
async def apply(
    body: Annotated[RecognitionCreate, Body(openapi_examples={"hypertension": {"value": EXAMPLE_APPLICATION}})],
    caller: Reader,
    uow: UowDep,
    refs: RefsDep,
) -> Any:
    if isinstance(caller, Institution):  # a designated hospital files for its patient with its key
        actor, role = audit.Actor("institution", caller.code), "institution"
    else:
        actor, role = caller.actor, caller.role
    return JSON(await service.apply(uow, actor, refs, body.to_command(), filer_role=role), status_code=201)


@router.get(
    "",
    response_model=RecognitionPage,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
    summary="Recognitions, newest first",
    description="Filters: `id_number`, `status` (`expired`: lapsed, set by the `chronic_rereview` job or past "
    "`valid_to`), `disease`, `expiring_before` (approved ones ending before the day: the re-review list). "
    "`format=csv` (or `Accept: text/csv`) answers the same rows as CSV.",
)
async def search(
    _: AnyStaff,
    session: SessionDep,
    refs: RefsDep,
    id_number: Annotated[str | None, Query(max_length=18)] = None,
    status: Annotated[str | None, Query(max_length=20, examples=["approved"])] = None,
    disease: Annotated[str | None, Query(max_length=20, examples=["HTN"])] = None,
    expiring_before: Annotated[
        date | None, Query(description="approved recognitions whose validity ends before this day (re-review)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    page = await service.search(
        session, refs, id_number=id_number, status=status, disease=disease, expiring_before=expiring_before, limit=limit
    )
    if fmt == "csv" or (fmt is None and accept is not None and "text/csv" in accept):
        return Response(
            service.to_csv(page),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="chronic-recognitions.csv"'},
        )
    return JSON(page)


@router.get("/{recognition_id}", response_model=RecognitionRead, responses=ERRORS, summary="One recognition")
async def read(recognition_id: str, _: AnyStaff, session: SessionDep, refs: RefsDep) -> Any:
    return JSON(await service.read(session, refs, recognition_id))


@router.post(
    "/{recognition_id}/approve",
    response_model=RecognitionRead,
    responses=ERRORS,
    summary="Approve the next review step (first review → second review)",
    description="Step 1 by a first reviewer, step 2 by a second reviewer (admin may take either). No one takes two "
    "steps of a recognition nor reviews one they filed (`SAME_ACTOR`, 403). The second review approves it: valid "
    "from today for the disease's `validity_months`.",
)
async def approve(recognition_id: str, staff: Reviewer, uow: UowDep, refs: RefsDep) -> Any:
    return JSON(await service.approve(uow, staff.actor, staff.role, refs, recognition_id))


@router.post(
    "/{recognition_id}/reject", response_model=RecognitionRead, responses=ERRORS, summary="Reject, with the reason"
)
async def reject(recognition_id: str, body: Reason, staff: Reviewer, uow: UowDep, refs: RefsDep) -> Any:
    return JSON(await service.reject(uow, staff.actor, refs, recognition_id, body.reason))


@router.post(
    "/{recognition_id}/revoke",
    response_model=RecognitionRead,
    responses=ERRORS,
    summary="Revoke an approved recognition (admin), with the reason",
)
async def revoke(recognition_id: str, body: Reason, staff: Admin, uow: UowDep, refs: RefsDep) -> Any:
    return JSON(await service.revoke(uow, staff.actor, refs, recognition_id, body.reason))


@member_router.post(
    "",
    status_code=201,
    response_model=RecognitionRead,
    responses=ERRORS,
    summary="Apply for my own recognition (app)",
    description="The same application as the counter's, for the token's person; the bureau's reviewers decide.",
)
async def member_apply(body: MemberRecognitionCreate, member: CurrentMember, uow: UowDep, refs: RefsDep) -> Any:
    cmd = body.to_command()
    return JSON(await service.apply(uow, member.actor, refs, cmd, person_id=member.person_id), status_code=201)


@member_router.get("", response_model=RecognitionPage, responses=ERRORS, summary="My recognitions")
async def member_list(member: CurrentMember, session: SessionDep, refs: RefsDep) -> Any:
    return JSON(await service.search(session, refs, person_id=member.person_id))


@member_router.get("/{recognition_id}", response_model=RecognitionRead, responses=ERRORS, summary="One of mine")
async def member_read(recognition_id: str, member: CurrentMember, session: SessionDep, refs: RefsDep) -> Any:
    return JSON(await service.read(session, refs, recognition_id, person_id=member.person_id))
