from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.errors import InvalidIdNumber, PersonNotFound
from yibao.people import id_number
from yibao.people.orm import PersonRow


async def get_by_id_number(session: AsyncSession, raw_id: str) -> PersonRow:
    """The person for an ID; a malformed ID is ``INVALID_ID_NUMBER``, an unknown one 404."""
    parsed = id_number.parse(raw_id)
    person = await session.scalar(select(PersonRow).where(PersonRow.id_number == parsed.id_number))
    if person is None:
        raise PersonNotFound(f"参保人不存在 no person with ID {id_number.mask(parsed.id_number)}")
    return person


def check_born(parsed: id_number.ParsedId, today: date) -> None:
    """A person can be registered only once born: the birth date the ID carries is today at the latest."""
    if parsed.birth_date > today:
        raise InvalidIdNumber(
            f"身份证号出生日期 {parsed.birth_date} 晚于今天 the ID number's birth date {parsed.birth_date} "
            f"is in the future (today is {today})"
        )


@dataclass(frozen=True)
class NewPerson:
    parsed: id_number.ParsedId  # checked: normalised, checksum, birth date (``check_born``)
    name: str
    region: str
    death_date: date | None = None


#: registration, of one person (``POST /persons``) or of many at once (a group feed): birth date
#: and gender are the parsed ID's; an ID number already registered is skipped (not returned)
_REGISTER = text(
    "INSERT INTO persons (id_number, name, region, birth_date, gender, death_date) "
    "SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:names AS text[]), CAST(:regions AS text[]), "
    "CAST(:births AS date[]), CAST(:genders AS text[]), CAST(:deaths AS date[])) "
    "ON CONFLICT (id_number) DO NOTHING RETURNING id, id_number"
)


async def insert_persons(session: AsyncSession, people: Sequence[NewPerson]) -> dict[str, int]:
    """Register ``people`` in one INSERT; {ID number: person id} of those inserted (an ID number
    registered already, or twice in ``people``, is left out)."""
    if not people:
        return {}
    params = {
        "ids": [p.parsed.id_number for p in people],
        "names": [p.name for p in people],
        "regions": [p.region for p in people],
        "births": [p.parsed.birth_date for p in people],
        "genders": [p.parsed.gender for p in people],
        "deaths": [p.death_date for p in people],
    }
    return {str(idn): int(pid) for pid, idn in (await session.execute(_REGISTER, params)).all()}
