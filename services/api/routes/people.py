"""Admin API (staff token): people, groups, enrolments, account credits, filings, family."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
from datetime import date
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, File, Form, Header, Query, Response, UploadFile

from api.deps import SessionDep, StaffUser, UowDep, require_staff, sees_full_ids
from api.responses import JSON
from api.schemas.common import ERRORS, RowId, csv_file, fen
from api.schemas.jobs import JobRead
from api.schemas.people import (
    BindingCreate,
    BindingRead,
    CreditCreate,
    CreditRead,
    DeathBatch,
    EnrolmentCreate,
    EnrolmentRead,
    FilingCreate,
    FilingRead,
    GroupCreate,
    GroupEnd,
    GroupRead,
    HistoryEntryRead,
    InheritanceClosingRead,
    InheritanceRead,
    PersonChangeRead,
    PersonCreate,
    PersonHistoryRead,
    PersonListed,
    PersonPage,
    PersonPatch,
    PersonRead,
)
from yibao.accounts import service as accounts
from yibao.auth.tokens import StaffPrincipal
from yibao.clock import today
from yibao.enrolment import service as enrolment
from yibao.errors import InvalidRequest
from yibao.jobs import runner
from yibao.people import deaths, group_feed
from yibao.people import service as people
from yibao.people.id_number import mask, normalise

router = APIRouter(prefix="/api/v1", tags=["admin 经办"], responses=ERRORS)

#: counter work (登记、参保、备案、家庭共济) is a clerk's; account credits are finance's
Clerk = Annotated[StaffPrincipal, Depends(require_staff("clerk"))]
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]


@router.post("/persons", status_code=201, response_model=PersonRead, summary="Register an insured person")
async def create_person(body: PersonCreate, staff: Clerk, uow: UowDep) -> PersonRead:
    """Validates the GB 11643 checksum and derives birth date and gender from the ID."""
    person = await people.register(uow, staff.actor, body.id_number, body.name, body.region, body.death_date)
    return PersonRead.of(person)


SEARCH_FIELDS = ["id_number", "name", "region", "birth_date", "gender", "death_date", "groups"]
CSV_PAGE = 1000


def _listed(found: people.Found, full_ids: bool) -> PersonListed:
    p = found.person
    return PersonListed(
        id_number=p.id_number if full_ids else mask(p.id_number),
        name=p.name,
        region=p.region,
        birth_date=p.birth_date,
        gender=cast(Literal["M", "F"], p.gender),
        death_date=p.death_date,
        groups=found.groups,
    )


@router.get(
    "/persons",
    response_model=PersonPage,
    responses={200: {"content": {"text/csv": {}}}},
    summary="Search people (staff): ID number, name, region, group, enrolment year; keyset pages or CSV",
)
async def search_persons(
    staff: StaffUser,
    session: SessionDep,
    q: Annotated[
        str | None,
        Query(max_length=100, description="an ID number (whole, a prefix, or masked 4305221990******35) or a name"),
    ] = None,
    name: Annotated[str | None, Query(max_length=100, description="part of the name")] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    group: Annotated[str | None, Query(max_length=30, description="a special group held today")] = None,
    enrolled_in: Annotated[int | None, Query(ge=2000, le=2100, description="enrolled for this year")] = None,
    deceased: Annotated[bool | None, Query(description="true: with a death date; false: without")] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format", description="`csv`: every row")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """ID numbers are whole for clerks (and admin), masked for other staff roles."""
    full = sees_full_ids(staff)
    search = functools.partial(
        people.search,
        session,
        q=q,
        name=name,
        region=region,
        group=group,
        enrolled_in=enrolled_in,
        deceased=deceased,
    )
    if not (fmt == "csv" or (fmt is None and accept is not None and "text/csv" in accept)):
        found, nxt = await search(cursor=cursor, limit=limit)
        return PersonPage(items=[_listed(f, full) for f in found], next_cursor=nxt)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SEARCH_FIELDS, lineterminator="\n")
    writer.writeheader()
    cur: str | None = None
    while True:  # the export walks every keyset page
        found, cur = await search(cursor=cur, limit=CSV_PAGE)
        for f in found:
            row = _listed(f, full).model_dump()
            writer.writerow({**row, "groups": ";".join(row["groups"])})
        if cur is None:
            break
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="persons.csv"'},
    )


@router.get("/persons/{id_number}", response_model=PersonRead, summary="One person")
async def get_person(id_number: str, _: Clerk, session: SessionDep) -> PersonRead:
    return PersonRead.of(await people.get(session, id_number))


#: a death-registry CSV of 100,000 rows is about 6 MB
MAX_IMPORT_BYTES = 20 * 1024 * 1024
_CREATED_OR_SAME: dict[int | str, dict[str, Any]] = {
    200: {"description": "the same file again: its first run, nothing changed"}
}


@router.post(
    "/persons/deaths",
    status_code=201,
    response_model=JobRead,
    responses=_CREATED_OR_SAME,
    summary="Death registry batch (JSON): classify every row, record matched deaths (idempotent)",
)
async def import_deaths_json(body: DeathBatch, staff: Clerk, uow: UowDep) -> Any:
    """A finished ``death_registry`` job run; ``result.counts`` per class, ``result.rows`` per row
    (IDs masked), ``GET /persons/imports/{run_id}/rows.csv`` the same as CSV. The same batch
    again (same SHA-256 of source and rows) answers the first run with 200 and changes nothing."""
    rows = [deaths.DeathRow(r.id_number, r.name, r.death_date) for r in body.rows]
    done = await deaths.import_deaths(uow, staff.actor, body.source, rows, deaths.sha256_of_rows(body.source, rows))
    return JSON(runner.render(done.run), status_code=201 if done.created else 200)


@router.post(
    "/persons/imports",
    status_code=201,
    response_model=JobRead,
    responses=_CREATED_OR_SAME,
    summary="Import a register feed file (CSV): a death registry, or the full list of one special group",
)
async def import_file(
    staff: Clerk,
    uow: UowDep,
    file: Annotated[
        UploadFile,
        File(
            description="CSV with a header, UTF-8. death_registry: id_number,name,death_date; "
            "group_feed: id_number,name,group,valid_from[,valid_to]"
        ),
    ],
    kind: Annotated[Literal["death_registry", "group_feed"], Form()],
    source: Annotated[str, Form(min_length=1, max_length=100, examples=["民政 2026-11"])],
    group: Annotated[str | None, Form(max_length=30, description="group_feed: the group the file lists")] = None,
    region: Annotated[
        str | None, Form(pattern=r"^\d{6}$", description="group_feed: the region whose full list it is")
    ] = None,
    feed_date: Annotated[
        date | None, Form(description="group_feed: the list's date (default today); missing tags end on it")
    ] = None,
) -> Any:
    """A finished job run of the kind; idempotent on the file's SHA-256 (a group feed's with its
    group, region and date): the same file again answers its first run with 200 and changes nothing.
    A group feed registers (``created``) and tags a person not registered whose row has a valid ID
    number and a name; a death registry row of an unknown person is only reported (``unknown_person``:
    the file has no region to register them in)."""
    content = await file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise InvalidRequest(f"文件超过 {MAX_IMPORT_BYTES} 字节 the file is larger than {MAX_IMPORT_BYTES} bytes")
    sha = hashlib.sha256(content).hexdigest()
    if kind == "death_registry":
        if group is not None or region is not None or feed_date is not None:
            raise InvalidRequest("death_registry takes no group, region or feed_date")
        done = await deaths.import_deaths(uow, staff.actor, source.strip(), deaths.parse_csv(content), sha)
    else:
        if group is None or region is None:
            raise InvalidRequest("group_feed needs group and region")
        done = await group_feed.import_feed(
            uow,
            staff.actor,
            source=source.strip(),
            group=group.strip(),
            region=region,
            feed_date=feed_date or today(),
            rows=group_feed.parse_csv(content),
            sha256=sha,
        )
    return JSON(runner.render(done.run), status_code=201 if done.created else 200)


@router.get(
    "/persons/imports/{run_id}/rows.csv",
    response_class=Response,
    responses=csv_file(
        "CSV: one line per row of the file (IDs masked) with its class; a group feed adds its ended tags"
    ),
    summary="The per-row classification of an import, as CSV",
)
async def import_rows(run_id: str, _: Clerk, session: SessionDep) -> Response:
    return Response(await people.import_rows_csv(session, run_id), media_type="text/csv; charset=utf-8")


@router.patch(
    "/persons/{id_number}",
    response_model=PersonChangeRead,
    summary="Change a person's name, region or death date (audited before/after)",
)
async def change_person(id_number: str, body: PersonPatch, staff: Clerk, uow: UowDep) -> PersonChangeRead:
    """Only the fields given change. A death date takes effect at once: later bills are refused
    ``PERSON_DECEASED``, member tokens and codes stop, premiums for later years are refused, and
    bills already settled after it are listed and raised as ``claims_after_death`` suspects.
    Correcting or clearing a recorded death date needs a ``reason``."""
    given = body.model_fields_set
    for field in ("name", "region"):
        if field in given and getattr(body, field) is None:
            raise InvalidRequest(f"{field} cannot be null")
    change = await people.change(
        uow,
        staff.actor,
        id_number,
        name=body.name,
        region=body.region,
        death_date_given="death_date" in given,
        death_date=body.death_date,
        reason=body.reason,
    )
    return PersonChangeRead.of(change)


@router.get(
    "/persons/{id_number}/history",
    response_model=PersonHistoryRead,
    summary="A person's audited history (registration, groups, changes), oldest first",
)
async def person_history(id_number: str, _: Clerk, session: SessionDep) -> PersonHistoryRead:
    person, entries = await people.history(session, id_number)
    return PersonHistoryRead(
        id_number=person.id_number,
        entries=[HistoryEntryRead(at=e.at, actor=e.actor, action=e.action, detail=e.detail) for e in entries],
    )


@router.post(
    "/persons/{id_number}/groups",
    status_code=201,
    response_model=GroupRead,
    summary="Tag a special group (特困/孤儿/重残/低保/防返贫监测/边缘) with validity",
)
async def add_group(id_number: str, body: GroupCreate, staff: Clerk, uow: UowDep) -> GroupRead:
    row = await people.tag_group(uow, staff.actor, id_number, body.group, body.valid_from, body.valid_to)
    return GroupRead(
        id=row.id, id_number=normalise(id_number), group=row.group, valid_from=row.valid_from, valid_to=row.valid_to
    )


@router.get("/persons/{id_number}/groups", response_model=list[GroupRead], summary="A person's group tags")
async def list_groups(id_number: str, _: Clerk, session: SessionDep) -> list[GroupRead]:
    """Every tag, ended ones included, oldest first."""
    person, rows = await people.groups_held(session, id_number)
    return [
        GroupRead(id=r.id, id_number=person.id_number, group=r.group, valid_from=r.valid_from, valid_to=r.valid_to)
        for r in rows
    ]


@router.patch(
    "/persons/{id_number}/groups/{tag_id}",
    response_model=GroupRead,
    summary="End a group tag (核减): set its valid_to",
)
async def end_group(id_number: str, tag_id: RowId, body: GroupEnd, staff: Clerk, uow: UowDep) -> GroupRead:
    """Subsidies already booked stay; the next premium quote and later bills see the tag ended."""
    person, r = await people.end_group(uow, staff.actor, id_number, tag_id, body.valid_to)
    return GroupRead(id=r.id, id_number=person.id_number, group=r.group, valid_from=r.valid_from, valid_to=r.valid_to)


@router.post("/enrolments", status_code=201, response_model=EnrolmentRead, summary="Enrol a person for a year")
async def create_enrolment(body: EnrolmentCreate, staff: Clerk, uow: UowDep) -> EnrolmentRead:
    enrolled = await enrolment.enrol(
        uow,
        staff.actor,
        body.id_number,
        body.scheme,
        body.year,
        body.coverage_start,
        body.retiree,
        body.continuous_years,
        fen(body.zero_claim_credit),
    )
    return EnrolmentRead.of(enrolled.person.id_number, enrolled.enrolment)


@router.post(
    "/accounts/{id_number}/credits",
    status_code=201,
    response_model=CreditRead,
    summary="Credit a personal account (idempotent by reference)",
)
async def credit_account(id_number: str, body: CreditCreate, staff: Finance, uow: UowDep) -> CreditRead:
    return CreditRead.of(await accounts.credit(uow, staff.actor, id_number, fen(body.amount), body.reference))


@router.get(
    "/accounts/{id_number}/inheritance",
    response_model=InheritanceRead,
    summary="A deceased holder's personal account: the inheritable balance",
)
async def account_inheritance(id_number: str, _: Finance, session: SessionDep) -> InheritanceRead:
    """After the holder's death the account pays no bill with a later service date and no premium;
    its whole balance is inheritable (0.00 while the holder is alive)."""
    return InheritanceRead.of(await accounts.inheritance(session, id_number))


@router.post(
    "/accounts/{id_number}/inheritance/close",
    status_code=201,
    response_model=InheritanceClosingRead,
    summary="Ask to close a deceased holder's account to the heirs (finance: maker)",
)
async def close_inheritance(id_number: str, staff: Finance, uow: UowDep) -> InheritanceClosingRead:
    """A living holder, an empty account or a closing already pending is `INVALID_STATE` (409)."""
    row = await accounts.request_inheritance_closing(uow, staff.actor, id_number)
    return InheritanceClosingRead.of(normalise(id_number), row)


@router.post(
    "/accounts/{id_number}/inheritance/{closing_id}/approve",
    response_model=InheritanceClosingRead,
    summary="Approve the closing: the balance moves out to zero (finance, not the maker)",
)
async def approve_inheritance(id_number: str, closing_id: RowId, staff: Finance, uow: UowDep) -> InheritanceClosingRead:
    """The maker is `SAME_ACTOR`; a balance changed since the request is `INVALID_STATE`; approving a
    closed one answers it unchanged."""
    row = await accounts.approve_inheritance_closing(uow, staff.actor, id_number, closing_id)
    return InheritanceClosingRead.of(normalise(id_number), row)


@router.post("/filings", status_code=201, response_model=FilingRead, summary="Cross-region filing (异地就医备案)")
async def create_filing(body: FilingCreate, staff: Clerk, uow: UowDep) -> FilingRead:
    person, row = await people.file_cross_region(
        uow, staff.actor, body.id_number, body.to_region, body.valid_from, body.valid_to
    )
    return FilingRead.of(person.id_number, row)


@router.post(
    "/family-bindings",
    status_code=201,
    response_model=BindingRead,
    summary="Bind a relative for family sharing (家庭共济)",
)
async def create_binding(body: BindingCreate, staff: Clerk, uow: UowDep) -> BindingRead:
    holder, relative, row = await people.bind_family(
        uow, staff.actor, body.holder_id_number, body.relative_id_number, body.relation
    )
    return BindingRead(holder_id_number=holder.id_number, relative_id_number=relative.id_number, relation=row.relation)
