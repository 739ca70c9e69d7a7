"""Personal accounts (个人账户): the one module that moves ``personal_accounts`` and
``account_movements``.

* ``credit`` (a use case: audited, commits) and ``credit_many`` (a step of a contribution
  posting): once per (person, reference).
* ``debit`` and ``reverse``: steps of a premium payment and of its refund. They run inside the
  caller's transaction (which audits and commits): the row is locked first, a debit never takes
  the balance below 0, and every change of the balance has its movement.
* The settle and cancel statements take their account part from ``yibao.accounts.sql``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.accounts.orm import AccountMovementRow, InheritanceClosingRow, PersonalAccountRow
from yibao.accounts.rules import refuse_after_death
from yibao.db.uow import UnitOfWork
from yibao.errors import IdempotencyConflict, InsufficientBalance, InvalidRequest, InvalidState, NotFound, SameActor
from yibao.money import Fen, to_wire
from yibao.people.orm import PersonRow
from yibao.people.repository import get_by_id_number


@dataclass(frozen=True)
class Credited:
    person: PersonRow
    movement: AccountMovementRow  # the first movement of the reference (a repeat returns it)
    balance: int  # after the credit
    created: bool


async def credit(uow: UnitOfWork, actor: audit.Actor, raw_id: str, amount: Fen, reference: str) -> Credited:
    """Credit once per reference: a repeat returns the first movement (``created=False``) and is
    not audited again.

    The movement is inserted first (ON CONFLICT DO NOTHING), as in ``credit_many``: a concurrent
    twin with the same reference waits on its unique key and then finds the first movement,
    instead of both raising the balance and one failing on the key."""
    s = uow.session
    if amount <= 0:
        raise InvalidRequest("amount must be positive")
    person = await get_by_id_number(s, raw_id)
    movement_id = await s.scalar(
        insert(AccountMovementRow)
        .values(person_id=person.id, amount=amount, kind="credit", reference=reference)
        .on_conflict_do_nothing(index_elements=["person_id", "reference"])
        .returning(AccountMovementRow.id)
    )
    if movement_id is None:
        existing = await s.scalar(
            select(AccountMovementRow).where(
                AccountMovementRow.person_id == person.id, AccountMovementRow.reference == reference
            )
        )
        assert existing is not None
        if existing.amount != amount or existing.kind != "credit":
            raise IdempotencyConflict(f"reference {reference!r} was already used for another amount")
        balance = await s.scalar(select(PersonalAccountRow.balance).where(PersonalAccountRow.person_id == person.id))
        return Credited(person, existing, int(balance or 0), created=False)
    upsert = insert(PersonalAccountRow).values(person_id=person.id, balance=amount)
    balance = await s.scalar(
        upsert.on_conflict_do_update(
            index_elements=["person_id"],
            set_={"balance": PersonalAccountRow.balance + amount},
        ).returning(PersonalAccountRow.balance)
    )
    movement = await s.get(AccountMovementRow, movement_id)
    assert movement is not None
    await audit.record(
        s, actor, "account.credited", ("person", str(person.id)), {"amount": movement.amount, "reference": reference}
    )
    await uow.commit()
    return Credited(person, movement, int(balance or 0), created=True)


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
    """The batch form of ``credit``, a step of the caller's transaction: one reference, many
    people, two statements whatever the count.

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


async def debit(session: AsyncSession, person_id: int, amount: Fen, *, kind: str, reference: str, what: str) -> int:
    """Take ``amount`` (> 0) from the account, a step of the caller's transaction: the row is
    locked first, and a balance below ``amount`` (or no account) is ``INSUFFICIENT_BALANCE``
    (``what`` names the charge in that message); an account whose holder died before today pays
    nothing (``PERSON_DECEASED``: the balance is inheritable). Returns the balance after the debit."""
    died = await session.scalar(select(PersonRow.death_date).where(PersonRow.id == person_id))
    refuse_after_death(died, clock.today(), what)
    balance = await session.scalar(
        select(PersonalAccountRow.balance).where(PersonalAccountRow.person_id == person_id).with_for_update()
    )
    if balance is None or balance < amount:
        raise InsufficientBalance(
            f"个人账户余额不足 balance {to_wire(balance or 0)} is below the {what} {to_wire(amount)}"
        )
    await session.execute(
        update(PersonalAccountRow)
        .where(PersonalAccountRow.person_id == person_id)
        .values(balance=PersonalAccountRow.balance - amount, updated_at=func.now())
    )
    session.add(AccountMovementRow(person_id=person_id, amount=-amount, kind=kind, reference=reference))
    return int(balance - amount)


async def reverse(
    session: AsyncSession,
    person_id: int,
    amount: Fen,
    *,
    kind: str,
    reference: str,
    settlement_id: uuid.UUID | None = None,
) -> None:
    """Give back ``amount`` (> 0) an earlier debit took, a step of the caller's transaction (which
    made sure that debit is reversed once). The UPDATE locks the row; the movement names the
    reversal by ``reference`` (unique per person)."""
    await session.execute(
        update(PersonalAccountRow)
        .where(PersonalAccountRow.person_id == person_id)
        .values(balance=PersonalAccountRow.balance + amount, updated_at=func.now())
    )
    session.add(
        AccountMovementRow(
            person_id=person_id, amount=amount, kind=kind, reference=reference, settlement_id=settlement_id
        )
    )


async def statement(session: AsyncSession, person_id: int, limit: int = 100) -> tuple[int, list[AccountMovementRow]]:
    """The person's balance (0 without an account) and latest movements, newest first."""
    balance = await session.scalar(select(PersonalAccountRow.balance).where(PersonalAccountRow.person_id == person_id))
    moves = await session.scalars(
        select(AccountMovementRow)
        .where(AccountMovementRow.person_id == person_id)
        .order_by(AccountMovementRow.id.desc())
        .limit(limit)
    )
    return int(balance or 0), list(moves)


@dataclass(frozen=True)
class Inheritance:
    person: PersonRow
    balance: int  # the account's balance now (0 without an account)
    inheritable: int  # the balance once the holder has a death date, else 0


async def inheritance(session: AsyncSession, raw_id: str) -> Inheritance:
    """What the heirs may inherit: the whole balance of a deceased holder's account (it pays
    nothing dated after the death), nothing while the holder is alive."""
    person = await get_by_id_number(session, raw_id)
    balance = int(
        await session.scalar(select(PersonalAccountRow.balance).where(PersonalAccountRow.person_id == person.id)) or 0
    )
    return Inheritance(person, balance, balance if person.death_date is not None else 0)


async def request_inheritance_closing(uow: UnitOfWork, actor: audit.Actor, raw_id: str) -> InheritanceClosingRow:
    """Maker: ask to close a deceased holder's account to the heirs for its whole balance now.
    A living holder, an empty account or a closing already pending is ``INVALID_STATE``."""
    s = uow.session
    person = await get_by_id_number(s, raw_id)
    if person.death_date is None:
        raise InvalidState("参保人未登记死亡 the holder has no death date: nothing is inheritable")
    balance = await s.scalar(
        select(PersonalAccountRow.balance).where(PersonalAccountRow.person_id == person.id).with_for_update()
    )
    if not balance:
        raise InvalidState("个人账户余额为零 the account has no balance to close")
    pending = await s.scalar(
        select(InheritanceClosingRow.id).where(
            InheritanceClosingRow.person_id == person.id, InheritanceClosingRow.status == "pending"
        )
    )
    if pending is not None:
        raise InvalidState(f"已有待审批的继承结清 closing {pending} is already pending")
    row = InheritanceClosingRow(person_id=person.id, amount=int(balance), status="pending", made_by=actor.name)
    s.add(row)
    await s.flush()
    await audit.record(
        s, actor, "account.inheritance_requested", ("person", str(person.id)), {"closing": row.id, "amount": row.amount}
    )
    await uow.commit()
    return row


async def approve_inheritance_closing(
    uow: UnitOfWork, actor: audit.Actor, raw_id: str, closing_id: int
) -> InheritanceClosingRow:
    """Checker (not the maker: ``SAME_ACTOR``): move the balance out to zero, one movement
    (``inheritance``, reference ``inheritance:{id}``), audited. The balance must still be the one
    asked for (else ``INVALID_STATE``: ask again). Approving a closed one answers it unchanged."""
    s = uow.session
    person = await get_by_id_number(s, raw_id)
    row = await s.scalar(
        select(InheritanceClosingRow)
        .where(InheritanceClosingRow.id == closing_id, InheritanceClosingRow.person_id == person.id)
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"继承结清不存在 no closing {closing_id} for this person")
    if row.status == "closed":
        return row
    if actor.name == row.made_by:
        raise SameActor("申请结清的人不能审批 who asked for the closing cannot approve it")
    balance = await s.scalar(
        select(PersonalAccountRow.balance).where(PersonalAccountRow.person_id == person.id).with_for_update()
    )
    if balance != row.amount:
        raise InvalidState(
            f"余额已变动 the balance is {to_wire(balance or 0)}, not the {to_wire(row.amount)} asked for"
        )
    await s.execute(
        update(PersonalAccountRow)
        .where(PersonalAccountRow.person_id == person.id)
        .values(balance=PersonalAccountRow.balance - row.amount, updated_at=func.now())
    )
    s.add(
        AccountMovementRow(
            person_id=person.id, amount=-row.amount, kind="inheritance", reference=f"inheritance:{row.id}"
        )
    )
    row.status, row.approved_by, row.approved_at = "closed", actor.name, clock.now()
    await audit.record(
        s,
        actor,
        "account.inheritance_closed",
        ("person", str(person.id)),
        {"closing": row.id, "amount": row.amount, "maker": row.made_by, "before": row.amount, "after": 0},
    )
    await uow.commit()
    return row
