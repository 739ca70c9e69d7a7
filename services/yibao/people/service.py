"""People: register, tag special groups, and the one writer of cross-region filings and family
bindings, whoever starts them.

Staff actions are use cases (audited, committed). A filing or a binding a member asks for in the
app goes through the same steps (``file``, ``approve_filing``, ``bind``): a filing staff make is
approved at once, a member's temporary one too, a member's long-term one waits for a clerk; a
binding staff make exists at once, a member's after the relative confirms it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.db.helpers import add_unique
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidIdNumber, InvalidRequest, NotFound, UnknownRegion
from yibao.people import id_number
from yibao.people.orm import FamilyBindingRow, FilingRow, PersonGroupRow, PersonRow
from yibao.people.repository import get_by_id_number
from yibao.policy.params import GROUPS
from yibao.policy.repository import is_pooling_region

RELATIONS = ("spouse", "parent", "child")
#: a filing up to this many days is "temporary" (approved at once); longer ones wait for a clerk
TEMPORARY_FILING_DAYS = 180


async def get(session: AsyncSession, raw_id: str) -> PersonRow:
    """The person for an ID; a malformed ID is ``INVALID_ID_NUMBER``, an unknown one 404."""
    return await get_by_id_number(session, raw_id)


async def _audit(uow: UnitOfWork, actor: audit.Actor, action: str, person_id: int, detail: dict[str, object]) -> None:
    """People are named by internal id in the audit log, never by ID number."""
    await audit.record(uow.session, actor, action, ("person", str(person_id)), detail)


async def register(
    uow: UnitOfWork, actor: audit.Actor, raw_id: str, name: str, region: str, death_date: date | None
) -> PersonRow:
    """Validates the GB 11643 checksum and derives birth date and gender from the (normalised) ID.

    Refuses what cannot be: a birth date (from the ID) or a death date after today (China time),
    a death before the birth, and a region that is no pooling region of the reference data."""
    parsed = id_number.parse(raw_id)
    today = clock.today()
    if parsed.birth_date > today:
        raise InvalidIdNumber(
            f"身份证号出生日期 {parsed.birth_date} 晚于今天 the ID number's birth date {parsed.birth_date} "
            f"is in the future (today is {today})"
        )
    if death_date is not None and death_date > today:
        raise InvalidRequest(
            f"死亡日期 {death_date} 晚于今天 death_date {death_date} is in the future (today is {today})"
        )
    if death_date is not None and death_date < parsed.birth_date:
        raise InvalidRequest("死亡日期早于出生日期 death_date is before the birth date")
    if not await is_pooling_region(uow.session, region):
        raise UnknownRegion(f"统筹区 {region} 不存在 {region} is no pooling region of the reference data")
    person = PersonRow(
        id_number=parsed.id_number,
        name=name,
        region=region,
        birth_date=parsed.birth_date,
        gender=parsed.gender,
        death_date=death_date,
    )
    person = await add_unique(uow.session, person, f"person {id_number.mask(parsed.id_number)}")
    await _audit(uow, actor, "person.registered", person.id, {"region": region})
    await uow.commit()
    return person


async def tag_group(
    uow: UnitOfWork, actor: audit.Actor, raw_id: str, group: str, valid_from: date, valid_to: date | None
) -> PersonGroupRow:
    if group not in GROUPS:
        raise InvalidRequest(f"unknown group {group!r}; one of {', '.join(GROUPS)}")
    if valid_to is not None and valid_to < valid_from:
        raise InvalidRequest("valid_to is before valid_from")
    person = await get_by_id_number(uow.session, raw_id)
    row = PersonGroupRow(person_id=person.id, group=group, valid_from=valid_from, valid_to=valid_to)
    row = await add_unique(uow.session, row, f"group {group} from {valid_from}")
    await _audit(
        uow, actor, "person.group_tagged", row.person_id, {"group": row.group, "valid_from": str(row.valid_from)}
    )
    await uow.commit()
    return row


# ---------------------------------------------------------------- cross-region filings


def filing_kind(valid_from: date, valid_to: date | None) -> str:
    """Temporary (≤ 180 days, e.g. a trip or a referral) or long-term (resident elsewhere)."""
    if valid_to is not None and (valid_to - valid_from).days <= TEMPORARY_FILING_DAYS:
        return "temporary"
    return "long_term"


def _check_dates(valid_from: date, valid_to: date | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise InvalidRequest("valid_to is before valid_from")


async def file(
    session: AsyncSession, person: PersonRow, to_region: str, valid_from: date, valid_to: date | None, *, by_staff: bool
) -> FilingRow:
    """File a cross-region registration, a step of the caller's transaction: staff filings and a
    member's temporary ones are approved at once, a member's long-term one waits (``pending``)."""
    _check_dates(valid_from, valid_to)
    if to_region == person.region:
        raise InvalidRequest("a filing is for another region than the person's own")
    approved = by_staff or filing_kind(valid_from, valid_to) == "temporary"
    row = FilingRow(
        person_id=person.id,
        to_region=to_region,
        valid_from=valid_from,
        valid_to=valid_to,
        status="approved" if approved else "pending",
    )
    return await add_unique(session, row, f"filing to {to_region} from {valid_from}")


async def approve_filing(session: AsyncSession, filing_id: int) -> FilingRow:
    """A clerk approves a pending (long-term) filing, a step of the caller's transaction."""
    row = await session.scalar(select(FilingRow).where(FilingRow.id == filing_id).with_for_update())
    if row is None or row.status != "pending":
        raise NotFound("待审备案不存在 no pending filing with this id")
    await session.execute(update(FilingRow).where(FilingRow.id == filing_id).values(status="approved"))
    row.status = "approved"
    return row


async def file_cross_region(
    uow: UnitOfWork, actor: audit.Actor, raw_id: str, to_region: str, valid_from: date, valid_to: date | None
) -> tuple[PersonRow, FilingRow]:
    """Staff file for a person (approved at once)."""
    _check_dates(valid_from, valid_to)
    person = await get_by_id_number(uow.session, raw_id)
    row = await file(uow.session, person, to_region, valid_from, valid_to, by_staff=True)
    await _audit(uow, actor, "filing.created", person.id, {"to_region": row.to_region, "status": row.status})
    await uow.commit()
    return person, row


# ---------------------------------------------------------------- family bindings


def _check_relation(relation: str) -> None:
    if relation not in RELATIONS:
        raise InvalidRequest(f"relation must be one of {', '.join(RELATIONS)}")


async def bind(session: AsyncSession, holder_id: int, relative_id: int, relation: str) -> FamilyBindingRow:
    """Bind a relative to a holder's account (family sharing), a step of the caller's transaction."""
    _check_relation(relation)
    if holder_id == relative_id:
        raise InvalidRequest("a person cannot bind themselves")
    row = FamilyBindingRow(holder_person_id=holder_id, relative_person_id=relative_id, relation=relation)
    return await add_unique(session, row, "family binding")


async def bind_family(
    uow: UnitOfWork, actor: audit.Actor, holder_raw_id: str, relative_raw_id: str, relation: str
) -> tuple[PersonRow, PersonRow, FamilyBindingRow]:
    """Staff bind a relative at once (the holder's audit entry names the relative)."""
    _check_relation(relation)
    holder = await get_by_id_number(uow.session, holder_raw_id)
    relative = await get_by_id_number(uow.session, relative_raw_id)
    row = await bind(uow.session, holder.id, relative.id, relation)
    await _audit(uow, actor, "family.bound", holder.id, {"relative": relative.id, "relation": row.relation})
    await uow.commit()
    return holder, relative, row


async def id_numbers(session: AsyncSession, person_ids: set[int]) -> dict[int, str]:
    """Person id → ID number, for answers that name people."""
    rows = await session.execute(select(PersonRow.id, PersonRow.id_number).where(PersonRow.id.in_(person_ids)))
    return {int(i): str(n) for i, n in rows.all()}
