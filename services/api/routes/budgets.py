"""Budgets per scheme and year (DOMAIN §11): finance drafts and proposes the region's; each
institution sees only its own, counter-proposes (with a reason) or accepts; finance agrees and
approves (not the one who made or agreed it); a mid-year adjustment is a new version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import CurrentInstitution, Reader, RuntimeDep, SessionDep, UowDep, require_staff
from api.responses import JSON
from api.schemas.budgets import (
    Adjustment,
    Agreement,
    BudgetScope,
    BudgetVersionRead,
    CounterProposal,
    InstitutionBudgetRead,
    RegionBudgetRead,
    Scheme,
    SchemeOnly,
)
from api.schemas.common import ERRORS, YearPath, fen
from yibao import audit
from yibao.auth.tokens import StaffPrincipal
from yibao.budgets import service
from yibao.errors import NotFound
from yibao.institutions.agreements import Institution

router = APIRouter(prefix="/api/v1/budgets", tags=["budgets 预算"])
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]
Code = Annotated[str, Query(max_length=20)]


def _own(inst: Institution, code: str) -> audit.Actor:
    if inst.code != code:
        raise NotFound(f"{code} 的预算不存在 budget not found")  # another's budget is never shown
    return audit.Actor("institution", inst.code)


async def _answer(budgets: service.Budgets, uow: UowDep, status: int = 200) -> Any:
    b = budgets.region
    return JSON(
        await service.read(uow.session, b.region, b.year, b.scheme, None),
        status_code=201 if budgets.created else status,
    )


@router.post(
    "/{year}/draft",
    response_model=RegionBudgetRead,
    status_code=201,
    responses=ERRORS,
    summary="Draft the region's budget of a scheme and each institution's (from the last three years)",
    description="Regional budget = last year's (else last year's fund payments) × (1 + the policy's growth rate); "
    "an institution's draft = the weighted average of its last three years' fund payments (policy weights, "
    "oldest first), scaled so the drafts sum to the regional budget; per-case quota = draft ÷ expected cases. "
    "Drafting again answers the drafts already made (200).",
)
async def draft(year: YearPath, body: BudgetScope, staff: Finance, uow: UowDep, runtime: RuntimeDep) -> Any:
    region = body.region or runtime.settings.home_region
    return await _answer(await service.draft(uow, staff.actor, region, year, body.scheme), uow)


@router.post(
    "/{year}/propose", response_model=RegionBudgetRead, responses=ERRORS, summary="Send the drafts to the institutions"
)
async def propose(year: YearPath, body: BudgetScope, staff: Finance, uow: UowDep, runtime: RuntimeDep) -> Any:
    region = body.region or runtime.settings.home_region
    return await _answer(await service.propose(uow, staff.actor, region, year, body.scheme), uow)


@router.get(
    "/{year}",
    response_model=RegionBudgetRead | InstitutionBudgetRead,
    responses=ERRORS,
    summary="The budgets of a year and scheme (an institution: only its own, once proposed)",
)
async def read(
    year: YearPath,
    reader: Reader,
    session: SessionDep,
    runtime: RuntimeDep,
    scheme: Annotated[Scheme, Query()],
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> Any:
    if isinstance(reader, Institution):
        return JSON(await service.read(session, reader.region, year, scheme, reader.code))
    return JSON(await service.read(session, region or runtime.settings.home_region, year, scheme, None))


@router.get(
    "/{year}/institutions/{code}/history",
    response_model=list[BudgetVersionRead],
    responses=ERRORS,
    summary="Every version of an institution's budget, oldest first",
)
async def history(
    year: YearPath, code: str, reader: Reader, session: SessionDep, scheme: Annotated[Scheme, Query()]
) -> Any:
    own = isinstance(reader, Institution)
    if own:
        _own(reader, code)  # type: ignore[arg-type]
    return JSON(await service.history(session, code, year, scheme, own=own))


@router.post(
    "/{year}/institutions/{code}/counter",
    response_model=BudgetVersionRead,
    responses=ERRORS,
    summary="The institution counter-proposes its proposed budget (with a reason)",
)
async def counter(year: YearPath, code: str, body: CounterProposal, inst: CurrentInstitution, uow: UowDep) -> Any:
    row = await service.counter(uow, _own(inst, code), code, year, body.scheme, fen(body.amount), body.reason)
    return JSON(service.render_version(row))


@router.post(
    "/{year}/institutions/{code}/accept",
    response_model=BudgetVersionRead,
    responses=ERRORS,
    summary="The institution accepts its proposed budget",
)
async def accept(year: YearPath, code: str, body: SchemeOnly, inst: CurrentInstitution, uow: UowDep) -> Any:
    return JSON(service.render_version(await service.accept(uow, _own(inst, code), code, year, body.scheme)))


@router.post(
    "/{year}/institutions/{code}/agree",
    response_model=BudgetVersionRead,
    responses=ERRORS,
    summary="Finance settles a counter-proposal (at its figure, or at `amount`)",
)
async def agree(year: YearPath, code: str, body: Agreement, staff: Finance, uow: UowDep) -> Any:
    amount = fen(body.amount) if body.amount is not None else None
    return JSON(service.render_version(await service.agree(uow, staff.actor, code, year, body.scheme, amount)))


@router.post(
    "/{year}/institutions/{code}/approve",
    response_model=BudgetVersionRead,
    responses=ERRORS,
    summary="Finance approves an agreed budget (not who made or agreed it: SAME_ACTOR)",
    description="Safe to retry: an approved budget is answered as it is.",
)
async def approve(year: YearPath, code: str, body: SchemeOnly, staff: Finance, uow: UowDep) -> Any:
    return JSON(service.render_version(await service.approve(uow, staff.actor, code, year, body.scheme)))


@router.post(
    "/{year}/institutions/{code}/adjust",
    response_model=BudgetVersionRead,
    status_code=201,
    responses=ERRORS,
    summary="A mid-year adjustment: a new version with a reason, in force once another finance user approves it",
)
async def adjust(year: YearPath, code: str, body: Adjustment, staff: Finance, uow: UowDep) -> Any:
    row = await service.adjust(uow, staff.actor, code, year, body.scheme, fen(body.amount), body.reason)
    return JSON(service.render_version(row), status_code=201)
