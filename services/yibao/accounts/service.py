"""Personal-account credits (idempotent by reference) and debits from settlements."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.accounts.orm import AccountMovementRow, PersonalAccountRow
from yibao.errors import IdempotencyConflict, InvalidRequest
from yibao.money import Fen
from yibao.people.orm import PersonRow
from yibao.people.repository import get_by_id_number


async def credit(
    session: AsyncSession, raw_id: str, amount: Fen, reference: str
) -> tuple[PersonRow, AccountMovementRow, int, bool]:
    """Credit once per reference: a repeat returns the first movement (created=False)."""
    if amount <= 0:
        raise InvalidRequest("amount must be positive")
    person = await get_by_id_number(session, raw_id)
    existing = await session.scalar(
        select(AccountMovementRow).where(
            AccountMovementRow.person_id == person.id, AccountMovementRow.reference == reference
        )
    )
    if existing is not None:
        if existing.amount != amount or existing.kind != "credit":
            raise IdempotencyConflict(f"reference {reference!r} was already used for another amount")
        balance = await session.scalar(
            select(PersonalAccountRow.balance).where(PersonalAccountRow.person_id == person.id)
        )
        return person, existing, int(balance or 0), False
    upsert = insert(PersonalAccountRow).values(person_id=person.id, balance=amount)
    balance = await session.scalar(
        upsert.on_conflict_do_update(
            index_elements=["person_id"],
            set_={"balance": PersonalAccountRow.balance + amount},
        ).returning(PersonalAccountRow.balance)
    )
    movement = AccountMovementRow(person_id=person.id, amount=amount, kind="credit", reference=reference)
    session.add(movement)
    await session.flush()
    return person, movement, int(balance or 0), True
