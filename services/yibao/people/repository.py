from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.errors import PersonNotFound
from yibao.people import id_number
from yibao.people.orm import PersonRow


async def get_by_id_number(session: AsyncSession, raw_id: str) -> PersonRow:
    """The person for an ID; a malformed ID is ``INVALID_ID_NUMBER``, an unknown one 404."""
    parsed = id_number.parse(raw_id)
    person = await session.scalar(select(PersonRow).where(PersonRow.id_number == parsed.id_number))
    if person is None:
        raise PersonNotFound(f"参保人不存在 no person with ID {id_number.mask(parsed.id_number)}")
    return person
