"""月核算 submissions by institutions (JSON or CSV) and DIP monthly pre-settlement figures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile

from api.deps import CurrentInstitution, Reader, SessionDep, UowDep
from api.responses import JSON
from api.schemas.common import ERRORS, MONTH_PATTERN, RowId
from api.schemas.reconcile import SchemeTotalIn, SubmissionCreate
from yibao import audit
from yibao.auth.tokens import StaffPrincipal
from yibao.institutions.agreements import Institution
from yibao.reconcile import dip_presettle, monthly

router = APIRouter(prefix="/api/v1/reconcile", tags=["reconcile 月核算"])
EXAMPLE = {
    "month": "2026-03",
    "totals": [{"scheme": "resident", "count": 1, "total": "2640.00", "fund_pay": "990.50", "account_pay": "0.00"}],
    "details": [
        {"settlement_id": "…", "scheme": "resident", "total": "2640.00", "fund_pay": "990.50", "account_pay": "0.00"}
    ],
}


def _actor(institution: Institution) -> audit.Actor:
    return audit.Actor("institution", institution.code)


def _scope(reader: Institution | StaffPrincipal) -> str | None:
    return reader.code if isinstance(reader, Institution) else None


@router.post(
    "/submissions",
    responses=ERRORS,
    summary="Submit a month (JSON): balanced / unbalanced with every difference",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE}}}},
)
async def submit(body: SubmissionCreate, institution: CurrentInstitution, uow: UowDep) -> Any:
    totals, details = [t.to_domain() for t in body.totals], [d.to_domain() for d in body.details]
    row = await monthly.submit(uow, _actor(institution), institution.code, body.month, totals, details)
    return JSON(monthly.render(row))


@router.post("/submissions/csv", responses=ERRORS, summary="Submit a month with the detail list as a CSV upload")
async def submit_csv(
    institution: CurrentInstitution,
    uow: UowDep,
    month: Annotated[str, Form(pattern=MONTH_PATTERN, examples=["2026-03"])],
    totals: Annotated[str, Form(description='JSON list of {"scheme","count","total","fund_pay","account_pay"}')],
    details: Annotated[UploadFile, File(description="settlement_id,scheme,total,fund_pay,account_pay")],
) -> Any:
    parsed = SchemeTotalIn.parse_list(totals)
    rows = monthly.parse_csv(await details.read())
    row = await monthly.submit(uow, _actor(institution), institution.code, month, parsed, rows)
    return JSON(monthly.render(row))


@router.get("/submissions/{submission_id}", responses=ERRORS, summary="One submission and its answer")
async def get_submission(submission_id: RowId, reader: Reader, session: SessionDep) -> Any:
    return JSON(monthly.render(await monthly.get(session, submission_id, _scope(reader))))


@router.get("/dip-presettlements", responses=ERRORS, summary="DIP monthly pre-settlement figures (run the job first)")
async def presettlements(
    reader: Reader,
    session: SessionDep,
    year: Annotated[int, Query(ge=2000, le=2100)],
    month: Annotated[int, Query(ge=1, le=12)],
) -> Any:
    return JSON({"items": await dip_presettle.listing(session, year, month, _scope(reader))})
