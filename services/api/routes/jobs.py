"""Ops start, follow and read background jobs (daily settle, reconcile, clearing, sweeps)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import SessionDep, StaffUser, UowDep
from api.responses import JSON
from api.schemas.common import ERRORS
from api.schemas.jobs import JobKindRead, JobPage, JobRead, JobRequest
from yibao.jobs import runner
from yibao.jobs.kinds import KINDS, authorize, params_of

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs 作业"])


@router.get("/kinds", response_model=list[JobKindRead], summary="Every job kind and who may start it")
async def kinds(_: StaffUser) -> Any:
    return JSON(
        [
            {"kind": k, "service": v.service, "roles": list(v.roles), "summary": v.summary, "params": params_of(v)}
            for k, v in KINDS.items()
        ]
    )


@router.post(
    "",
    status_code=202,
    response_model=JobRead,
    responses=ERRORS,
    summary="Start a job (202: queued; the same dedup_key returns the existing run with 200)",
)
async def start(body: JobRequest, staff: StaffUser, uow: UowDep) -> Any:
    authorize(body.kind, staff.role)
    row, created = await runner.request(uow, staff.actor, body.kind, body.params, body.dedup_key)
    return JSON(runner.render(row), status_code=202 if created else 200)


@router.get("/{run_id}", response_model=JobRead, responses=ERRORS, summary="One run: state, progress, result")
async def get(run_id: str, _: StaffUser, session: SessionDep) -> Any:
    return JSON(runner.render(await runner.get(session, run_id)))


@router.get("", response_model=JobPage, responses=ERRORS, summary="Runs, newest first (keyset pagination)")
async def list_runs(
    _: StaffUser,
    session: SessionDep,
    kind: str | None = None,
    state: str | None = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    return JSON(await runner.list_page(session, kind=kind, state=state, cursor=cursor, limit=limit))
