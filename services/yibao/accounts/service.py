"""Personal-account credits (idempotent by reference) and debits from settlements."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text
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
    """Credit once per reference: a repeat returns the first movement (created=False).

    The movement is inserted first (ON CONFLICT DO NOTHING), as in ``credit_many``: a concurrent
    twin with the same reference waits on its unique key and then finds the first movement,
    instead of both raising the balance and one failing on the key."""
    if amount <= 0:
        raise InvalidRequest("amount must be positive")
    person = await get_by_id_number(session, raw_id)
    movement_id = await session.scalar(
        insert(AccountMovementRow)
        .values(person_id=person.id, amount=amount, kind="credit", reference=reference)
        .on_conflict_do_nothing(index_elements=["person_id", "reference"])
        .returning(AccountMovementRow.id)
    )
    if movement_id is None:
        existing = await session.scalar(
            select(AccountMovementRow).where(
                AccountMovementRow.person_id == person.id, AccountMovementRow.reference == reference
            )
        )
        assert existing is not None
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
    movement = await session.get(AccountMovementRow, movement_id)
    assert movement is not None
    return person, movement, int(balance or 0), True


_CREDIT_CONFLICTS = text(
    """
    SELECT count(*) FROM unnest(CAST(:pids AS bigint[]), CAST(:amounts AS bigint[])) AS i(person_id, amount)
    JOIN account_movements m ON m.person_id = i.person_id AND m.reference = :ref
    WHERE m.amount <> i.amount OR m.kind <> 'credit'
    """
)

_CREDIT_MANY = text(
    """
    WITH moved AS (
        INSERT INTO account_movements (person_id, amount, kind, reference)
        SELECT person_id, amount, 'credit', :ref
        FROM unnest(CAST(:pids AS bigint[]), CAST(:amounts AS bigint[])) AS i(person_id, amount)
        ORDER BY person_id
        ON CONFLICT (person_id, reference) DO NOTHING
        RETURNING person_id, amount
    ), credited AS (
        INSERT INTO personal_accounts (person_id, balance)
        SELECT person_id, amount FROM moved ORDER BY person_id
        ON CONFLICT (person_id) DO UPDATE
        SET balance = personal_accounts.balance + EXCLUDED.balance, updated_at = now()
        RETURNING person_id
    )
    SELECT count(*) FROM credited
    """
)


async def credit_many(session: AsyncSession, credits: Sequence[tuple[int, Fen]], reference: str) -> int:
    """The batch form of ``credit``: one reference, many people, two statements whatever the count.

    Same rules as ``credit``: once per (person, reference), a repeat with the same amount is a
    no-op and with another amount ``IdempotencyConflict``. Rows are touched in person-id order so
    two batches crediting overlapping people cannot deadlock. Returns how many were credited now.
    """
    if any(amount <= 0 for _, amount in credits):
        raise InvalidRequest("amount must be positive")
    if not credits:
        return 0
    params = {"pids": [p for p, _ in credits], "amounts": [int(a) for _, a in credits], "ref": reference}
    if await session.scalar(_CREDIT_CONFLICTS, params):
        raise IdempotencyConflict(f"reference {reference!r} was already used for another amount")
    return int(await session.scalar(_CREDIT_MANY, params) or 0)
