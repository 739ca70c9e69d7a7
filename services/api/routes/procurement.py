"""Procurement (集采) volumes per institution and year, imported as CSV: what a procurement
prepayment (``POST /api/v1/payouts/prepayments`` with ``kind: procurement``) is sized by."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, UploadFile
from pydantic import BaseModel

from api.deps import UowDep, require_staff
from api.responses import JSON
from api.schemas.common import ERRORS
from yibao.auth.tokens import StaffPrincipal
from yibao.procurement import service

router = APIRouter(prefix="/api/v1/procurement", tags=["procurement 集采"])
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]


class VolumesImported(BaseModel):
    rows: int
    changed: int


@router.post(
    "/volumes",
    response_model=VolumesImported,
    responses=ERRORS,
    summary="Import procurement amounts per institution and year (CSV institution_code,year,amount)",
    description="All rows or none: a bad line, an unknown institution or a repeated institution-year is "
    "INVALID_REQUEST naming it. A row replaces the stored amount of its institution and year; the same file "
    "again changes nothing (`changed: 0`).",
)
async def import_volumes(
    staff: Finance,
    uow: UowDep,
    file: Annotated[UploadFile, File(description="CSV: institution_code,year,amount (yuan)")],
) -> Any:
    done = await service.import_csv(uow, staff.actor, await file.read())
    return JSON({"rows": done.rows, "changed": done.changed})
