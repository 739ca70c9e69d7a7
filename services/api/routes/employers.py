"""Staff API for employers and their monthly contributions (职工医保单位缴费).

Routes stay thin: the posting's rules, idempotency, derived enrolments and the audit entry of
each write live in ``yibao.employers.service``; here are roles and wire formats.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from api.deps import RefsDep, SessionDep, UowDep, require_staff
from api.schemas.common import ERRORS
from api.schemas.employers import (
    EXAMPLE_CODE,
    EXAMPLE_POSTING,
    ContributionPage,
    ContributionPostingCreate,
    ContributionPostingRead,
    ContributionPostingSummary,
    EmployerCreate,
    EmployerRead,
    Month,
)
from yibao.auth.tokens import StaffPrincipal
from yibao.employers import service as employers
from yibao.employers.rules import month_label, parse_month

router = APIRouter(prefix="/api/v1/employers", tags=["employers 单位缴费"], responses=ERRORS)

#: registering an employer is counter work; contributions are posted by finance or at the counter
Clerk = Annotated[StaffPrincipal, Depends(require_staff("clerk"))]
ContributionStaff = Annotated[StaffPrincipal, Depends(require_staff("finance", "clerk"))]
Code = Annotated[str, Path(min_length=1, max_length=18, examples=[EXAMPLE_CODE])]
PostingBody = Annotated[ContributionPostingCreate, Body(openapi_examples={"one month": {"value": EXAMPLE_POSTING}})]


@router.post(
    "",
    status_code=201,
    response_model=EmployerRead,
    responses={200: {"model": EmployerRead, "description": "already registered (`created: false`)"}},
    summary="Register an employer (idempotent on the unified social credit code)",
    description="201 when registered now; 200 with `created: false` when the same code, name and region were "
    "registered before; the code with another name or region is `DUPLICATE` (409). A code whose check character "
    "does not match is `INVALID_REQUEST` (400).",
)
async def register(body: EmployerCreate, staff: Clerk, uow: UowDep, response: Response) -> EmployerRead:
    registered = await employers.register(uow, staff.actor, body.code, body.name, body.region)
    if not registered.created:
        response.status_code = 200
    return EmployerRead.of(registered.employer, registered.created)


@router.get("/{code}", response_model=EmployerRead, summary="One employer")
async def get_employer(code: Code, _: ContributionStaff, session: SessionDep) -> EmployerRead:
    return EmployerRead.of(await employers.get(session, code))


@router.post(
    "/{code}/contributions",
    status_code=201,
    response_model=ContributionPostingRead,
    responses={
        200: {"model": ContributionPostingRead, "description": "replay of the month's posting (`created: false`)"}
    },
    summary="Post one employer-month of contributions (idempotent per employer and month)",
    description="Per line: employer part = base × employer_rate, employee part = base × employee_rate (each rounded "
    "half-up to the fen), account credit = employee part × account_share_of_employee + employer part × "
    "account_share_of_employer (rounded), from the policy of the employer's region and the month's year. "
    "Credits the personal accounts (reference `contrib:{code}:{YYYY-MM}`) and creates or keeps each person's "
    "`employee` enrolment for the year (coverage from the first day of the first contributed month, plus the "
    "policy's waiting months for a new contributor; reason `EMPLOYEE_CONTRIBUTION`), with the line's retiree flag. "
    "A resident enrolment of the same year is left as it is. The same body again returns the first posting "
    "(200, `created: false`); another body for a posted month is `IDEMPOTENCY_CONFLICT` (409) — corrections are "
    "a separate process. Every person must be registered (`PERSON_NOT_FOUND` names the line); a person twice in "
    "one posting is `INVALID_REQUEST`.",
)
async def post_contributions(
    code: Code, body: PostingBody, staff: ContributionStaff, uow: UowDep, refs: RefsDep, response: Response
) -> ContributionPostingRead:
    posted = await employers.post_contributions(uow, staff.actor, refs, code, body.month, body.to_lines())
    if not posted.created:
        response.status_code = 200
    return ContributionPostingRead.of_posted(posted)


@router.get(
    "/{code}/contributions",
    response_model=ContributionPage,
    summary="An employer's postings, newest month first (keyset pagination)",
)
async def list_contributions(
    code: Code,
    _: ContributionStaff,
    session: SessionDep,
    cursor: Annotated[Month | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ContributionPage:
    employer = await employers.get(session, code)
    page, next_month = await employers.list_page(session, employer, parse_month(cursor) if cursor else None, limit)
    return ContributionPage(
        items=[ContributionPostingSummary.of(p, employer.code, n) for p, n in page],
        next_cursor=month_label(next_month) if next_month else None,
    )
