"""Use cases of the maternity allowance: read, list, approve (one approval, with the payee), and
the hooks the person-payee order calls (``payable``, ``mark_paid``, ``mark_returned``), and the
recovery of an allowance paid before its delivery bill was cancelled.

The allowance is paid from the ``maternity`` fund when its person order is paid
(``claims`` ← ``bank``); a returned transfer reverses that and the allowance waits for a new
approval with a corrected payee.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidState, NotFound
from yibao.ledger.postings import post_pair
from yibao.maternity.orm import MaternityAllowanceRow
from yibao.money import to_wire
from yibao.people.id_number import mask
from yibao.people.orm import PersonRow

STATUSES = ("pending", "approved", "paid", "ineligible", "void")


def render(a: MaternityAllowanceRow, id_number: str) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "allowance_no": a.allowance_no,
        "id_number": mask(id_number),
        "settlement_id": str(a.settlement_id),
        "institution_code": a.institution_code,
        "delivery_date": a.delivery_date.isoformat(),
        "delivery_type": a.delivery_type,
        "babies": a.babies,
        "days": a.days,
        "months_contributed": a.months_contributed,
        "average_base": to_wire(a.average_base),
        "daily_amount": to_wire(a.daily_amount),
        "amount": to_wire(a.amount),
        "eligible": a.eligible,
        "reason": a.reason,
        "flags": list(a.flags),
        "status": a.status,
        "policy_version": a.policy_version,
        "payee": a.payee,
        "approved_by": a.approved_by,
        "approved_at": a.approved_at.isoformat() if a.approved_at else None,
        "paid_order_id": a.paid_order_id,
        "paid_at": a.paid_at.isoformat() if a.paid_at else None,
        "created_at": a.created_at.isoformat(),
        "delivery_cancelled_at": a.delivery_cancelled_at.isoformat() if a.delivery_cancelled_at else None,
        "recovery": _recovery(a),
    }


def _recovery(a: MaternityAllowanceRow) -> dict[str, Any] | None:
    """What the mother owes back of an allowance whose delivery bill was cancelled after it was
    paid (``due`` until finance records the money received, then ``recovered``)."""
    if a.delivery_cancelled_at is None or a.status != "paid":
        return None
    return {
        "status": "recovered" if a.recovered_at else "due",
        "amount": to_wire(a.amount),
        "recovered_at": a.recovered_at.isoformat() if a.recovered_at else None,
        "recovered_by": a.recovered_by,
        "reference": a.recovery_reference,
    }


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"生育津贴 {value} 不存在 maternity allowance not found") from None


async def _get(session: AsyncSession, allowance_id: str, *, lock: bool = False) -> tuple[MaternityAllowanceRow, str]:
    stmt = (
        select(MaternityAllowanceRow, PersonRow.id_number)
        .join(PersonRow, PersonRow.id == MaternityAllowanceRow.person_id)
        .where(MaternityAllowanceRow.id == _uuid(allowance_id))
    )
    row = (await session.execute(stmt.with_for_update(of=MaternityAllowanceRow) if lock else stmt)).first()
    if row is None:
        raise NotFound(f"生育津贴 {allowance_id} 不存在 maternity allowance not found")
    return row[0], row[1]


async def read(uow: UnitOfWork, allowance_id: str, *, person_id: int | None = None) -> dict[str, Any]:
    """One allowance; ``person_id``: the member's own only (another's is ``NOT_FOUND``)."""
    a, idn = await _get(uow.session, allowance_id)
    if person_id is not None and a.person_id != person_id:
        raise NotFound(f"生育津贴 {allowance_id} 不存在 maternity allowance not found")
    return render(a, idn)


async def listing(
    uow: UnitOfWork,
    *,
    status: str | None = None,
    id_number: str | None = None,
    person_id: int | None = None,
    recovery: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; ``recovery``: ``due`` (paid, delivery cancelled, not yet back) or ``recovered``."""
    stmt = select(MaternityAllowanceRow, PersonRow.id_number).join(
        PersonRow, PersonRow.id == MaternityAllowanceRow.person_id
    )
    if status is not None:
        stmt = stmt.where(MaternityAllowanceRow.status == status)
    if id_number is not None:
        stmt = stmt.where(PersonRow.id_number == id_number)
    if person_id is not None:
        stmt = stmt.where(MaternityAllowanceRow.person_id == person_id)
    if recovery is not None:
        back = MaternityAllowanceRow.recovered_at
        stmt = stmt.where(
            MaternityAllowanceRow.status == "paid",
            MaternityAllowanceRow.delivery_cancelled_at.is_not(None),
            back.is_(None) if recovery == "due" else back.is_not(None),
        )
    rows = await uow.session.execute(stmt.order_by(MaternityAllowanceRow.created_at.desc()).limit(limit))
    return [render(a, idn) for a, idn in rows]


async def approve(uow: UnitOfWork, actor: audit.Actor, allowance_id: str, payee: dict[str, str]) -> dict[str, Any]:
    """pending → approved with the payee (the person's bank account); the next person order pays it.
    Approving an approved allowance again answers it as it is (a retry)."""
    session = uow.session
    a, idn = await _get(session, allowance_id, lock=True)
    if a.status == "approved":
        body = render(a, idn)
        await uow.commit()
        return body
    if a.status != "pending":
        raise InvalidState(
            f"生育津贴状态为 {a.status}，不能审批 the allowance is {a.status}: only a pending one is approved"
        )
    a.status, a.payee = "approved", dict(payee)
    a.approved_by, a.approved_at = f"{actor.kind}:{actor.name}", clock.now()
    await session.flush()
    await audit.record(
        session,
        actor,
        "maternity_allowance.approved",
        ("maternity_allowance", str(a.id)),
        {"allowance_no": a.allowance_no, "amount_fen": a.amount, "flags": list(a.flags)},
    )
    body = render(a, idn)
    await uow.commit()
    return body


async def payable(session: AsyncSession, ordered: Any) -> list[MaternityAllowanceRow]:
    """Approved allowances not in a live person-order line (``ordered``: a select of those ids), locked."""
    stmt = select(MaternityAllowanceRow).where(
        MaternityAllowanceRow.status == "approved", MaternityAllowanceRow.id.not_in(ordered)
    )
    return list((await session.scalars(stmt.order_by(MaternityAllowanceRow.allowance_no).with_for_update())).all())


async def by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, MaternityAllowanceRow]:
    rows = await session.scalars(select(MaternityAllowanceRow).where(MaternityAllowanceRow.id.in_(ids)))
    return {a.id: a for a in rows}


async def mark_paid(session: AsyncSession, ids: list[uuid.UUID], order_id: int) -> None:
    for a in (await by_ids(session, ids)).values():
        a.status, a.paid_order_id, a.paid_at = "paid", order_id, clock.now()


async def mark_returned(session: AsyncSession, allowance_id: uuid.UUID) -> None:
    """The bank returned the transfer: pending again, for an approval with a corrected payee; void
    if its delivery bill was cancelled meanwhile (nothing is owed either way, the money is back)."""
    a = await session.get(MaternityAllowanceRow, allowance_id, with_for_update=True)
    assert a is not None  # order lines reference it
    a.status, a.paid_order_id, a.paid_at = "pending", None, None
    if a.delivery_cancelled_at is not None:
        a.status, a.voided_at = "void", clock.now()


async def record_recovery(uow: UnitOfWork, actor: audit.Actor, allowance_id: str, reference: str) -> dict[str, Any]:
    """The mother paid back an allowance whose delivery bill was cancelled after it was paid: the
    maternity fund's spending is reversed (``bank`` ← ``claims``) once, audited. Recording it
    again answers it as it is (a retry); an allowance with nothing owed is ``INVALID_STATE``."""
    session = uow.session
    a, idn = await _get(session, allowance_id, lock=True)
    if a.recovered_at is not None:
        body = render(a, idn)
        await uow.commit()
        return body
    if a.delivery_cancelled_at is None or a.status != "paid":
        raise InvalidState(
            f"生育津贴 {a.allowance_no} 无应追回款项 nothing is owed back: only a paid allowance whose delivery "
            "bill was cancelled is recovered"
        )
    await post_pair(
        session,
        movement="maternity_allowance_recovery",
        source=f"maternity_recovery:{a.allowance_no}",
        institution_code=a.institution_code,
        fund="maternity",
        debit="bank",
        credit="claims",
        amount=a.amount,
        business_date=clock.today(),
        scheme="employee",
    )
    a.recovered_at, a.recovered_by, a.recovery_reference = clock.now(), f"{actor.kind}:{actor.name}", reference
    await session.flush()
    await audit.record(
        session,
        actor,
        "maternity_allowance.recovered",
        ("maternity_allowance", str(a.id)),
        {"allowance_no": a.allowance_no, "amount_fen": a.amount, "reference": reference},
    )
    body = render(a, idn)
    await uow.commit()
    return body
