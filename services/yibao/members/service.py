"""What a member may see and do: their own data and that of relatives bound to them.

Isolation rule: every read or write names a person by ID number and goes through
``visible_person``; a person the member may not see is answered exactly like an unknown one
(``PERSON_NOT_FOUND``, 404), so the API never confirms that someone else is insured.
A holder sees the relatives bound to their account (family sharing), not the other way round.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import clock
from yibao.accounts.orm import AccountMovementRow, PersonalAccountRow
from yibao.bill_settlement import render
from yibao.bill_settlement.orm import SettlementLineRow, SettlementRow
from yibao.db.helpers import add_unique
from yibao.errors import InvalidRequest, NotFound, PersonNotFound
from yibao.members.orm import BindingRequestRow
from yibao.people import id_number as ids
from yibao.people.orm import FamilyBindingRow, FilingRow, PersonRow

RELATIONS = ("spouse", "parent", "child")
#: a filing up to this many days is "temporary" (approved at once); longer ones wait for a clerk
TEMPORARY_FILING_DAYS = 180


async def relatives(session: AsyncSession, person_id: int) -> list[tuple[PersonRow, str]]:
    rows = await session.execute(
        select(PersonRow, FamilyBindingRow.relation)
        .join(FamilyBindingRow, FamilyBindingRow.relative_person_id == PersonRow.id)
        .where(FamilyBindingRow.holder_person_id == person_id)
        .order_by(PersonRow.id)
    )
    return [(p, rel) for p, rel in rows.all()]


async def visible_person(session: AsyncSession, member_id: int, raw_id: str | None) -> PersonRow:
    """The member, or a relative bound to them; anyone else is ``PERSON_NOT_FOUND``."""
    me = await session.get(PersonRow, member_id)
    if me is None:
        raise PersonNotFound()
    if raw_id is None or raw_id.strip().upper() == me.id_number:
        return me
    wanted = ids.parse(raw_id).id_number
    for person, _ in await relatives(session, member_id):
        if person.id_number == wanted:
            return person
    raise PersonNotFound(f"参保人不存在 no person with ID {ids.mask(wanted)}")


async def settlements(session: AsyncSession, person_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """The person's bills, newest first, each with its full split (the settlement contract body)."""
    rows = list(
        await session.scalars(
            select(SettlementRow)
            .where(SettlementRow.person_id == person_id)
            .order_by(SettlementRow.settled_at.desc(), SettlementRow.id.desc())
            .limit(limit)
        )
    )
    if not rows:
        return []
    lines = await session.scalars(
        select(SettlementLineRow).where(SettlementLineRow.settlement_id.in_([r.id for r in rows]))
    )
    by: dict[Any, list[SettlementLineRow]] = {}
    for ln in lines:
        by.setdefault(ln.settlement_id, []).append(ln)
    return [_own(render.from_rows(r, sorted(by.get(r.id, []), key=lambda x: x.line_no)), r) for r in rows]


def _own(body: dict[str, Any], row: SettlementRow) -> dict[str, Any]:
    """Members see their own full ID number (the contract body masks it for institutions)."""
    return {**body, "id_number": row.id_number}


async def settlement(session: AsyncSession, person_id: int, settlement_id: str) -> dict[str, Any]:
    import uuid

    try:
        sid = uuid.UUID(settlement_id)
    except ValueError:
        raise NotFound("结算不存在 settlement not found") from None
    row = await session.scalar(
        select(SettlementRow).where(SettlementRow.id == sid, SettlementRow.person_id == person_id)
    )
    if row is None:
        raise NotFound("结算不存在 settlement not found")
    lines = await session.scalars(
        select(SettlementLineRow).where(SettlementLineRow.settlement_id == sid).order_by(SettlementLineRow.line_no)
    )
    return _own(render.from_rows(row, list(lines)), row)


async def account(session: AsyncSession, person_id: int, limit: int = 100) -> tuple[int, list[AccountMovementRow]]:
    balance = await session.scalar(select(PersonalAccountRow.balance).where(PersonalAccountRow.person_id == person_id))
    moves = await session.scalars(
        select(AccountMovementRow)
        .where(AccountMovementRow.person_id == person_id)
        .order_by(AccountMovementRow.id.desc())
        .limit(limit)
    )
    return int(balance or 0), list(moves)


async def ask_binding(
    session: AsyncSession, holder_id: int, relative_raw_id: str, relative_name: str, relation: str
) -> BindingRequestRow:
    """The holder asks; the relative (by ID number and matching name) must confirm in their app."""
    if relation not in RELATIONS:
        raise InvalidRequest(f"relation must be one of {', '.join(RELATIONS)}")
    wanted = ids.parse(relative_raw_id).id_number
    relative = await session.scalar(select(PersonRow).where(PersonRow.id_number == wanted))
    if relative is None or relative.name != relative_name:
        raise PersonNotFound(f"参保人不存在 no person with ID {ids.mask(wanted)} and that name")
    if relative.id == holder_id:
        raise InvalidRequest("a person cannot bind themselves")
    row = BindingRequestRow(holder_person_id=holder_id, relative_person_id=relative.id, relation=relation)
    return await add_unique(session, row, "pending binding request")


async def binding_requests(session: AsyncSession, person_id: int) -> list[BindingRequestRow]:
    return list(
        await session.scalars(
            select(BindingRequestRow)
            .where(
                (BindingRequestRow.holder_person_id == person_id) | (BindingRequestRow.relative_person_id == person_id)
            )
            .order_by(BindingRequestRow.id.desc())
        )
    )


async def decide_binding(session: AsyncSession, relative_id: int, request_id: int, confirm: bool) -> BindingRequestRow:
    """Only the relative named in the request may confirm or reject it."""
    row = await session.scalar(
        select(BindingRequestRow)
        .where(BindingRequestRow.id == request_id, BindingRequestRow.relative_person_id == relative_id)
        .with_for_update()
    )
    if row is None or row.status != "pending":
        raise NotFound("绑定申请不存在 no pending binding request with this id for you")
    row.status = "confirmed" if confirm else "rejected"
    row.decided_at = clock.now()
    if confirm:
        await add_unique(
            session,
            FamilyBindingRow(
                holder_person_id=row.holder_person_id, relative_person_id=relative_id, relation=row.relation
            ),
            "family binding",
        )
    await session.flush()
    return row


def filing_kind(valid_from: date, valid_to: date | None) -> str:
    """Temporary (≤ 180 days, e.g. a trip or a referral) or long-term (resident elsewhere)."""
    if valid_to is not None and (valid_to - valid_from).days <= TEMPORARY_FILING_DAYS:
        return "temporary"
    return "long_term"


async def apply_filing(
    session: AsyncSession, person: PersonRow, to_region: str, valid_from: date, valid_to: date | None
) -> FilingRow:
    """Temporary filings are approved at once; long-term ones wait (``pending``) for a clerk."""
    if valid_to is not None and valid_to < valid_from:
        raise InvalidRequest("valid_to is before valid_from")
    if to_region == person.region:
        raise InvalidRequest("a filing is for another region than the person's own")
    status = "approved" if filing_kind(valid_from, valid_to) == "temporary" else "pending"
    row = FilingRow(person_id=person.id, to_region=to_region, valid_from=valid_from, valid_to=valid_to, status=status)
    return await add_unique(session, row, f"filing to {to_region} from {valid_from}")


async def filings(session: AsyncSession, person_id: int) -> list[FilingRow]:
    return list(
        await session.scalars(select(FilingRow).where(FilingRow.person_id == person_id).order_by(FilingRow.id.desc()))
    )


async def approve_filing(session: AsyncSession, filing_id: int) -> FilingRow:
    """A clerk approves a pending (long-term) filing."""
    row = await session.scalar(select(FilingRow).where(FilingRow.id == filing_id).with_for_update())
    if row is None or row.status != "pending":
        raise NotFound("待审备案不存在 no pending filing with this id")
    await session.execute(update(FilingRow).where(FilingRow.id == filing_id).values(status="approved"))
    row.status = "approved"
    return row
