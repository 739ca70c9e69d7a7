"""Ops start, follow and read background jobs (daily settle, reconcile, clearing, sweeps)."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import and_, or_, select

from api.deps import SessionDep, StaffUser, UowDep
from api.responses import JSON
from api.schemas.common import ERRORS
from api.schemas.jobs import JobKindRead, JobPage, JobRead, JobRequest
from yibao import audit
from yibao.errors import Forbidden, InvalidRequest
from yibao.jobs import runner
from yibao.jobs.kinds import KINDS
from yibao.jobs.orm import JobRunRow

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs 作业"])


@router.get("/kinds", response_model=list[JobKindRead], summary="Every job kind and who may start it")
async def kinds(_: StaffUser) -> Any:
    return JSON(
        [{"kind": k, "service": v.service, "roles": list(v.roles), "summary": v.summary} for k, v in KINDS.items()]
    )


@router.post(
    "",
    status_code=202,
    response_model=JobRead,
    responses=ERRORS,
    summary="Start a job (202: queued; the same dedup_key returns the existing run with 200)",
)
async def start(body: JobRequest, staff: StaffUser, uow: UowDep) -> Any:
    kind = KINDS.get(body.kind)
    if kind is None:
        raise InvalidRequest(f"unknown job kind {body.kind!r}; known: {', '.join(sorted(KINDS))}")
    if staff.role != "admin" and staff.role not in kind.roles:
        raise Forbidden(f"需要角色 {'/'.join(kind.roles)} job {body.kind} needs role {kind.roles}")
    row, created = await runner.request(uow, body.kind, body.params, staff.name, body.dedup_key)
    if created:
        await audit.record(
            uow.session,
            audit.Actor("staff", staff.name),
            "job.requested",
            ("job_run", str(row.id)),
            {"kind": body.kind, "params": body.params},
        )
    body_out = runner.render(row)
    await uow.commit()
    return JSON(body_out, status_code=202 if created else 200)


@router.get("/{run_id}", response_model=JobRead, responses=ERRORS, summary="One run: state, progress, result")
async def get(run_id: str, _: StaffUser, session: SessionDep) -> Any:
    return JSON(runner.render(await runner.get(session, run_id)))


def _cursor(row: JobRunRow) -> str:
    return base64.urlsafe_b64encode(f"{row.requested_at.isoformat()}|{row.id}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, rid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(rid)
    except ValueError as exc:
        raise InvalidRequest("cursor is not one this API returned") from exc


@router.get("", response_model=JobPage, responses=ERRORS, summary="Runs, newest first (keyset pagination)")
async def list_runs(
    _: StaffUser,
    session: SessionDep,
    kind: str | None = None,
    state: str | None = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    stmt = select(JobRunRow)
    if kind:
        stmt = stmt.where(JobRunRow.kind == kind)
    if state:
        stmt = stmt.where(JobRunRow.state == state)
    if cursor:
        at, rid = _decode(cursor)
        stmt = stmt.where(or_(JobRunRow.requested_at < at, and_(JobRunRow.requested_at == at, JobRunRow.id < rid)))
    rows = (
        await session.scalars(stmt.order_by(JobRunRow.requested_at.desc(), JobRunRow.id.desc()).limit(limit + 1))
    ).all()
    page = rows[:limit]
    return JSON(
        {"items": [runner.render(r) for r in page], "next_cursor": _cursor(page[-1]) if len(rows) > limit else None}
    )
