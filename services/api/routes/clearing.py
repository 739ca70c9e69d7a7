"""年清算: preview (nothing written), commit (final, finance), statements (an institution its own)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import Reader, RuntimeDep, SessionDep, UowDep, require_staff
from api.responses import JSON
from api.schemas.clearing import ClearingRead, InstitutionClearingRead
from api.schemas.common import ERRORS, YearPath
from yibao.auth.tokens import StaffPrincipal
from yibao.clearing import year_end
from yibao.institutions.agreements import Institution

router = APIRouter(prefix="/api/v1/clearing", tags=["clearing 年清算"])
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]


async def _region(
    runtime: RuntimeDep,
    region: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="pooling region; default: the home region (HOME_REGION)")
    ] = None,
) -> str:
    return region or runtime.settings.home_region


Region = Annotated[str, Depends(_region)]


@router.get(
    "/{year}/preview",
    response_model=ClearingRead,
    responses=ERRORS,
    summary="Preview the year's DIP clearing (nothing written)",
)
async def preview(year: YearPath, _: Finance, session: SessionDep, region: Region) -> Any:
    return JSON(await year_end.preview(session, region, year))


@router.post(
    "/{year}/commit",
    response_model=ClearingRead,
    responses=ERRORS,
    summary="Commit the clearing: final; a second commit changes nothing",
    description="Safe to retry: a committed clearing is answered as stored, and nothing is booked again.",
)
async def commit(year: YearPath, staff: Finance, uow: UowDep, region: Region) -> Any:
    return JSON(await year_end.commit(uow, staff.actor, region, year))


@router.get(
    "/{year}/statements",
    response_model=ClearingRead | InstitutionClearingRead,
    responses=ERRORS,
    summary="Committed statements (an institution sees its own)",
    description="Staff: the region's clearing (`ClearingRead`). An institution: its own statement and the point "
    "value, without the region's budget or weighted points (`InstitutionClearingRead`).",
)
async def statements(year: YearPath, reader: Reader, session: SessionDep, region: Region) -> Any:
    scope = reader.code if isinstance(reader, Institution) else None
    return JSON(await year_end.statements(session, region, year, scope))
