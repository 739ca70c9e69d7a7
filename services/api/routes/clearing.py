"""年清算: preview (nothing written), commit (final, finance), statements (an institution its own)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import Reader, SessionDep, UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS, YearPath
from yibao.auth.tokens import StaffPrincipal
from yibao.clearing import year_end
from yibao.errors import NotFound
from yibao.institutions.agreements import Institution

router = APIRouter(prefix="/api/v1/clearing", tags=["clearing 年清算"])
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]
Region = Annotated[str, Query(pattern=r"^\d{6}$", examples=["430522"])]


@router.get("/{year}/preview", responses=ERRORS, summary="Preview the year's DIP clearing (nothing written)")
async def preview(year: YearPath, _: Finance, session: SessionDep, region: Region = "430522") -> Any:
    return JSON(await year_end.preview(session, region, year))


@router.post("/{year}/commit", responses=ERRORS, summary="Commit the clearing: final; a second commit changes nothing")
async def commit(year: YearPath, staff: Finance, uow: UowDep, region: Region = "430522") -> Any:
    body = await year_end.commit(uow.session, region, year, staff.name)
    await uow.commit()
    return JSON(body)


@router.get("/{year}/statements", responses=ERRORS, summary="Committed statements (an institution sees its own)")
async def statements(year: YearPath, reader: Reader, session: SessionDep, region: Region = "430522") -> Any:
    body = await year_end.stored(session, region, year)
    if isinstance(reader, Institution):
        body["statements"] = [s for s in body["statements"] if s["institution_code"] == reader.code]
        if not body["statements"]:
            raise NotFound("无本机构清算单 no statement for this institution")
    return JSON(body)
