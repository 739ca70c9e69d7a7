"""Admin API (staff token): people, groups, enrolments, account credits, filings, family."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import SessionDep, UowDep, require_staff
from api.schemas.common import ERRORS, fen
from api.schemas.people import (
    BindingCreate,
    BindingRead,
    CreditCreate,
    CreditRead,
    EnrolmentCreate,
    EnrolmentRead,
    FilingCreate,
    FilingRead,
    GroupCreate,
    GroupRead,
    PersonCreate,
    PersonRead,
)
from yibao import audit
from yibao.accounts import service as accounts
from yibao.auth.tokens import StaffPrincipal
from yibao.enrolment import service as enrolment
from yibao.money import to_wire
from yibao.people import service as people
from yibao.people.orm import PersonRow
from yibao.people.repository import get_by_id_number

router = APIRouter(prefix="/api/v1", tags=["admin 经办"], responses=ERRORS)

#: counter work (登记、参保、备案、家庭共济) is a clerk's; account credits are finance's
Clerk = Annotated[StaffPrincipal, Depends(require_staff("clerk"))]
Finance = Annotated[StaffPrincipal, Depends(require_staff("finance"))]


async def _audit(uow: Any, staff: StaffPrincipal, action: str, person: PersonRow, detail: dict[str, Any]) -> None:
    """Recorded in the action's own transaction; people are named by internal id, never by ID number."""
    await audit.record(uow.session, audit.Actor("staff", staff.name), action, ("person", str(person.id)), detail)


def _person(p: PersonRow) -> PersonRead:
    return PersonRead(
        id_number=p.id_number,
        name=p.name,
        region=p.region,
        birth_date=p.birth_date,
        gender=p.gender,  # type: ignore[arg-type]
        death_date=p.death_date,
    )


@router.post("/persons", status_code=201, response_model=PersonRead, summary="Register an insured person")
async def create_person(body: PersonCreate, staff: Clerk, uow: UowDep) -> PersonRead:
    """Validates the GB 11643 checksum and derives birth date and gender from the ID."""
    person = await people.register(uow.session, body.id_number, body.name, body.region, body.death_date)
    await _audit(uow, staff, "person.registered", person, {"region": body.region})
    await uow.commit()
    return _person(person)


@router.get("/persons/{id_number}", response_model=PersonRead, summary="One person")
async def get_person(id_number: str, _: Clerk, session: SessionDep) -> PersonRead:
    return _person(await get_by_id_number(session, id_number))


@router.post(
    "/persons/{id_number}/groups",
    status_code=201,
    response_model=GroupRead,
    summary="Tag a special group (特困/孤儿/重残/低保/防返贫监测/边缘) with validity",
)
async def add_group(id_number: str, body: GroupCreate, staff: Clerk, uow: UowDep) -> GroupRead:
    row = await people.tag_group(uow.session, id_number, body.group, body.valid_from, body.valid_to)
    await audit.record(
        uow.session,
        audit.Actor("staff", staff.name),
        "person.group_tagged",
        ("person", str(row.person_id)),
        {"group": row.group, "valid_from": str(row.valid_from)},
    )
    await uow.commit()
    return GroupRead(id_number=id_number.upper(), group=row.group, valid_from=row.valid_from, valid_to=row.valid_to)


@router.post("/enrolments", status_code=201, response_model=EnrolmentRead, summary="Enrol a person for a year")
async def create_enrolment(body: EnrolmentCreate, staff: Clerk, uow: UowDep) -> EnrolmentRead:
    person, row = await enrolment.enrol(
        uow.session,
        body.id_number,
        body.scheme,
        body.year,
        body.coverage_start,
        body.retiree,
        body.continuous_years,
        fen(body.zero_claim_credit),
    )
    await _audit(
        uow,
        staff,
        "enrolment.created",
        person,
        {"scheme": row.scheme, "year": row.year, "coverage_start": str(row.coverage_start)},
    )
    await uow.commit()
    return EnrolmentRead(
        id_number=person.id_number,
        scheme=row.scheme,
        year=row.year,
        coverage_start=row.coverage_start,
        retiree=row.retiree,
        continuous_years=row.continuous_years,
        zero_claim_credit=to_wire(row.zero_claim_credit),
    )


@router.post(
    "/accounts/{id_number}/credits",
    status_code=201,
    response_model=CreditRead,
    summary="Credit a personal account (idempotent by reference)",
)
async def credit_account(id_number: str, body: CreditCreate, staff: Finance, uow: UowDep) -> CreditRead:
    person, movement, balance, created = await accounts.credit(uow.session, id_number, fen(body.amount), body.reference)
    if created:
        await _audit(uow, staff, "account.credited", person, {"amount": movement.amount, "reference": body.reference})
    await uow.commit()
    return CreditRead(
        id_number=person.id_number,
        amount=to_wire(movement.amount),
        reference=movement.reference,
        balance=to_wire(balance),
        created=created,
    )


@router.post("/filings", status_code=201, response_model=FilingRead, summary="Cross-region filing (异地就医备案)")
async def create_filing(body: FilingCreate, staff: Clerk, uow: UowDep) -> FilingRead:
    person, row = await people.file_cross_region(
        uow.session, body.id_number, body.to_region, body.valid_from, body.valid_to
    )
    await _audit(uow, staff, "filing.created", person, {"to_region": row.to_region, "status": row.status})
    await uow.commit()
    return FilingRead(
        id_number=person.id_number,
        to_region=row.to_region,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        status=row.status,
    )


@router.post(
    "/family-bindings",
    status_code=201,
    response_model=BindingRead,
    summary="Bind a relative for family sharing (家庭共济)",
)
async def create_binding(body: BindingCreate, staff: Clerk, uow: UowDep) -> BindingRead:
    holder, relative, row = await people.bind_family(
        uow.session, body.holder_id_number, body.relative_id_number, body.relation
    )
    await _audit(uow, staff, "family.bound", holder, {"relative": relative.id, "relation": row.relation})
    await uow.commit()
    return BindingRead(holder_id_number=holder.id_number, relative_id_number=relative.id_number, relation=row.relation)
