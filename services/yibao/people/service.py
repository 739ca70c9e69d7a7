"""Admin operations on people: register, tag special groups, file cross-region, bind family."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from yibao.db.helpers import add_unique
from yibao.errors import InvalidRequest
from yibao.people import id_number
from yibao.people.orm import FamilyBindingRow, FilingRow, PersonGroupRow, PersonRow
from yibao.people.repository import get_by_id_number
from yibao.policy.params import GROUPS

RELATIONS = ("spouse", "parent", "child")


async def register(session: AsyncSession, raw_id: str, name: str, region: str, death_date: date | None) -> PersonRow:
    parsed = id_number.parse(raw_id)
    if death_date is not None and death_date < parsed.birth_date:
        raise InvalidRequest("死亡日期早于出生日期 death_date is before the birth date")
    person = PersonRow(
        id_number=parsed.id_number,
        name=name,
        region=region,
        birth_date=parsed.birth_date,
        gender=parsed.gender,
        death_date=death_date,
    )
    return await add_unique(session, person, f"person {id_number.mask(parsed.id_number)}")


async def tag_group(
    session: AsyncSession, raw_id: str, group: str, valid_from: date, valid_to: date | None
) -> PersonGroupRow:
    if group not in GROUPS:
        raise InvalidRequest(f"unknown group {group!r}; one of {', '.join(GROUPS)}")
    if valid_to is not None and valid_to < valid_from:
        raise InvalidRequest("valid_to is before valid_from")
    person = await get_by_id_number(session, raw_id)
    row = PersonGroupRow(person_id=person.id, group=group, valid_from=valid_from, valid_to=valid_to)
    return await add_unique(session, row, f"group {group} from {valid_from}")


async def file_cross_region(
    session: AsyncSession, raw_id: str, to_region: str, valid_from: date, valid_to: date | None
) -> tuple[PersonRow, FilingRow]:
    if valid_to is not None and valid_to < valid_from:
        raise InvalidRequest("valid_to is before valid_from")
    person = await get_by_id_number(session, raw_id)
    if to_region == person.region:
        raise InvalidRequest("a filing is for another region than the person's own")
    row = FilingRow(
        person_id=person.id,
        to_region=to_region,
        valid_from=valid_from,
        valid_to=valid_to,
        status="approved",
    )
    return person, await add_unique(session, row, f"filing to {to_region} from {valid_from}")


async def bind_family(
    session: AsyncSession, holder_id: str, relative_id: str, relation: str
) -> tuple[PersonRow, PersonRow, FamilyBindingRow]:
    if relation not in RELATIONS:
        raise InvalidRequest(f"relation must be one of {', '.join(RELATIONS)}")
    holder = await get_by_id_number(session, holder_id)
    relative = await get_by_id_number(session, relative_id)
    if holder.id == relative.id:
        raise InvalidRequest("a person cannot bind themselves")
    row = FamilyBindingRow(holder_person_id=holder.id, relative_person_id=relative.id, relation=relation)
    return holder, relative, await add_unique(session, row, "family binding")
