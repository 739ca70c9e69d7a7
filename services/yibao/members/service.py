"""What a member may see and do: their own data and that of relatives bound to them.

Isolation rule: every read or write names a person by ID number and goes through
``visible_person``; a person the member may not see is answered exactly like an unknown one
(``PERSON_NOT_FOUND``, 404), so the API never confirms that someone else is insured.
A holder sees the relatives bound to their account (family sharing), not the other way round.

Reads go through the owning modules with the person as scope (``bill_settlement.queries``,
``accounts``, ``enrolment``, ``premiums``); writes are use cases that take the unit of work,
audit where the action is audited, and commit. Filings and bindings are written by ``people``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.accounts import service as accounts
from yibao.accounts.orm import AccountMovementRow
from yibao.bill_settlement import queries as settlements_read
from yibao.db.helpers import add_unique
from yibao.db.uow import UnitOfWork
from yibao.enrolment import service as enrolments
from yibao.enrolment.orm import EnrolmentRow
from yibao.errors import InvalidRequest, NotFound, PersonDeceased, PersonNotFound
from yibao.members import auth, codes
from yibao.members.auth import MemberPrincipal
from yibao.members.orm import BindingRequestRow
from yibao.money import Fen
from yibao.people import id_number as ids
from yibao.people import service as people
from yibao.people.orm import FamilyBindingRow, FilingRow, PersonRow
from yibao.people.repository import get_by_id_number
from yibao.policy.params import PolicyParams
from yibao.premiums import rules
from yibao.premiums import service as premiums
from yibao.premiums.orm import PremiumPaymentRow

RELATIONS = people.RELATIONS
TEMPORARY_FILING_DAYS = people.TEMPORARY_FILING_DAYS
filing_kind = people.filing_kind


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
    if raw_id is None:
        return me
    wanted = ids.parse(raw_id).id_number  # normalised: fullwidth or other-script digits are the same number
    if wanted == me.id_number:
        return me
    for person, _ in await relatives(session, member_id):
        if person.id_number == wanted:
            return person
    raise PersonNotFound(f"参保人不存在 no person with ID {ids.mask(wanted)}")


# ---------------------------------------------------------------- reads


@dataclass(frozen=True)
class Me:
    person: PersonRow
    relatives: list[tuple[PersonRow, str]]  # (relative, relation)


async def me(session: AsyncSession, member: MemberPrincipal) -> Me:
    person = await visible_person(session, member.person_id, None)
    return Me(person, await relatives(session, person.id))


async def enrolment(
    session: AsyncSession, member: MemberPrincipal, year: int, raw_id: str | None
) -> tuple[PersonRow, EnrolmentRow | None]:
    """The person's enrolment of ``year``: the resident one if any, else any scheme's."""
    person = await visible_person(session, member.person_id, raw_id)
    row = await enrolments.get(session, person.id, year, "resident")
    if row is None:
        row = await enrolments.get(session, person.id, year)
    return person, row


async def premium_due(
    session: AsyncSession,
    member: MemberPrincipal,
    year: int,
    policies: Mapping[tuple[str, int], PolicyParams],
    raw_id: str | None,
) -> premiums.Due:
    """What the person owes today for ``year`` (premium − subsidy), when coverage would start,
    why paying today would be refused, and whether it is paid."""
    person = await visible_person(session, member.person_id, raw_id)
    return await premiums.due(session, person, year, clock.today(), policies)


async def payments(session: AsyncSession, member: MemberPrincipal) -> list[tuple[PremiumPaymentRow, str]]:
    """(payment, ID number of whom it is for) of the member and their relatives, newest first."""
    me_ = await visible_person(session, member.person_id, None)
    people_ = {me_.id: me_.id_number} | {r.id: r.id_number for r, _ in await relatives(session, me_.id)}
    return [(p, people_[p.person_id]) for p in await premiums.payments_of(session, list(people_))]


async def settlements(session: AsyncSession, member: MemberPrincipal, raw_id: str | None) -> list[dict[str, Any]]:
    """The person's bills, newest first, each with its full split and the person's own full ID
    (the contract body masks it for institutions)."""
    person = await visible_person(session, member.person_id, raw_id)
    return [{**b, "id_number": person.id_number} for b in await settlements_read.of_person(session, person.id)]


async def settlement(
    session: AsyncSession, member: MemberPrincipal, raw_id: str | None, settlement_id: str
) -> dict[str, Any]:
    person = await visible_person(session, member.person_id, raw_id)
    body = await settlements_read.get(session, settlement_id, None, person_id=person.id)
    return {**body, "id_number": person.id_number}


async def account(
    session: AsyncSession, member: MemberPrincipal, raw_id: str | None
) -> tuple[PersonRow, int, list[AccountMovementRow]]:
    """The person's balance and latest movements."""
    person = await visible_person(session, member.person_id, raw_id)
    balance, moves = await accounts.statement(session, person.id)
    return person, balance, moves


@dataclass(frozen=True)
class Binding:
    request: BindingRequestRow
    holder_id_number: str
    relative_id_number: str


async def _bindings(session: AsyncSession, rows: list[BindingRequestRow]) -> list[Binding]:
    known = await people.id_numbers(session, {p for r in rows for p in (r.holder_person_id, r.relative_person_id)})
    return [Binding(r, known.get(r.holder_person_id, ""), known.get(r.relative_person_id, "")) for r in rows]


async def binding_requests(session: AsyncSession, member: MemberPrincipal) -> list[Binding]:
    """Binding requests the member made or got, newest first."""
    rows = await session.scalars(
        select(BindingRequestRow)
        .where(
            (BindingRequestRow.holder_person_id == member.person_id)
            | (BindingRequestRow.relative_person_id == member.person_id)
        )
        .order_by(BindingRequestRow.id.desc())
    )
    return await _bindings(session, list(rows))


async def filings(session: AsyncSession, member: MemberPrincipal, raw_id: str | None) -> list[FilingRow]:
    person = await visible_person(session, member.person_id, raw_id)
    return list(
        await session.scalars(select(FilingRow).where(FilingRow.person_id == person.id).order_by(FilingRow.id.desc()))
    )


async def member_code(
    session: AsyncSession, member: MemberPrincipal, raw_id: str | None, secret: str, seconds: int
) -> tuple[str, datetime]:
    """A fresh member QR code for the person (nothing is written until a settlement uses it);
    none for a deceased person."""
    person = await visible_person(session, member.person_id, raw_id)
    _alive(person)
    return codes.issue(person.id, secret, seconds)


def _alive(person: PersonRow) -> None:
    """DOMAIN §8: a death date ends member-app access (tokens, activation and QR codes)."""
    if person.death_date is not None:
        raise PersonDeceased(
            f"参保人已于{person.death_date}死亡 the person died on {person.death_date}: no member-app access"
        )


# ---------------------------------------------------------------- use cases


async def issue_activation_code(
    uow: UnitOfWork, actor: audit.Actor, raw_id: str, hours: int
) -> tuple[PersonRow, str, datetime]:
    """Staff issue a single-use activation code (shown once) for the person; none for a
    deceased person."""
    person = await get_by_id_number(uow.session, raw_id)
    _alive(person)
    code, expires = await auth.issue_activation_code(uow.session, person.id, actor.name, hours)
    await audit.record(uow.session, actor, "member.activation_code.issue", ("person", str(person.id)), {})
    await uow.commit()
    return person, code, expires


async def activate(uow: UnitOfWork, code: str, token_days: int) -> tuple[str, datetime]:
    """Exchange an activation code (once) for a member token; returns (token, expires_at)."""
    token, _, expires = await auth.activate(uow.session, code, token_days)
    await uow.commit()
    return token, expires


async def logout(uow: UnitOfWork, member: MemberPrincipal) -> None:
    await auth.revoke(uow.session, member.token_id)
    await uow.commit()


async def pay_premium(
    uow: UnitOfWork,
    member: MemberPrincipal,
    *,
    year: int,
    amount: Fen,
    source: Literal["app", "account"],
    payment_reference: str | None,
    raw_id: str | None,
    idempotency_key: str | None,
    policies: Mapping[tuple[str, int], PolicyParams],
) -> premiums.Paid:
    """Pay a premium for the member or a bound relative: through the app's cash gateway
    (``payment_reference``) or from the member's personal account (family sharing for a
    relative). Idempotent on the request's key, scoped to the member: the same key and body
    replay the first payment (``created=False``), another body is ``IDEMPOTENCY_CONFLICT``
    (nothing written). The premium use case audits and commits."""
    if not idempotency_key:
        raise InvalidRequest("缺少 Idempotency-Key 请求头 the Idempotency-Key header is required")
    s = uow.session
    person = await visible_person(s, member.person_id, raw_id)
    payer = await visible_person(s, member.person_id, None)
    if source == "app":
        if not payment_reference:
            raise InvalidRequest("source=app needs the gateway's payment_reference")
        channel, reference = "app", payment_reference
    else:
        channel, reference = "account", f"M{payer.id}:{idempotency_key}"
    body = {
        "person": person.id,
        "year": year,
        "amount": int(amount),
        "source": source,
        "payment_reference": payment_reference,
    }
    request = premiums.Request(f"member:{member.person_id}", idempotency_key, rules.request_hash(body))
    return await premiums.pay(
        uow,
        member.actor,
        person,
        year,
        channel=channel,
        reference=reference,
        amount=amount,
        policies=policies,
        payer=payer,
        request=request,
    )


async def ask_binding(
    uow: UnitOfWork, member: MemberPrincipal, relative_raw_id: str, relative_name: str, relation: str
) -> Binding:
    """The holder asks; the relative (by ID number and matching name) must confirm in their app."""
    s = uow.session
    if relation not in RELATIONS:
        raise InvalidRequest(f"relation must be one of {', '.join(RELATIONS)}")
    wanted = ids.parse(relative_raw_id).id_number
    relative = await s.scalar(select(PersonRow).where(PersonRow.id_number == wanted))
    if relative is None or relative.name != relative_name:
        raise PersonNotFound(f"参保人不存在 no person with ID {ids.mask(wanted)} and that name")
    if relative.id == member.person_id:
        raise InvalidRequest("a person cannot bind themselves")
    row = BindingRequestRow(holder_person_id=member.person_id, relative_person_id=relative.id, relation=relation)
    row = await add_unique(s, row, "pending binding request")
    (out,) = await _bindings(s, [row])
    await uow.commit()
    return out


async def decide_binding(uow: UnitOfWork, member: MemberPrincipal, request_id: int, confirm: bool) -> Binding:
    """Only the relative named in the request may confirm (the binding exists from then) or
    reject it; audited as ``family_binding.confirm`` / ``family_binding.reject``."""
    s = uow.session
    row = await s.scalar(
        select(BindingRequestRow)
        .where(BindingRequestRow.id == request_id, BindingRequestRow.relative_person_id == member.person_id)
        .with_for_update()
    )
    if row is None or row.status != "pending":
        raise NotFound("绑定申请不存在 no pending binding request with this id for you")
    row.status = "confirmed" if confirm else "rejected"
    row.decided_at = clock.now()
    if confirm:
        await people.bind(s, row.holder_person_id, member.person_id, row.relation)
    await s.flush()
    (out,) = await _bindings(s, [row])
    decision = "confirm" if confirm else "reject"
    await audit.record(s, member.actor, f"family_binding.{decision}", ("binding_request", str(row.id)), {})
    await uow.commit()
    return out


async def apply_filing(
    uow: UnitOfWork,
    member: MemberPrincipal,
    raw_id: str | None,
    to_region: str,
    valid_from: date,
    valid_to: date | None,
) -> FilingRow:
    """Temporary filings are approved at once; long-term ones wait (``pending``) for a clerk."""
    person = await visible_person(uow.session, member.person_id, raw_id)
    row = await people.file(uow.session, person, to_region, valid_from, valid_to, by_staff=False)
    await uow.commit()
    return row


async def approve_filing(uow: UnitOfWork, actor: audit.Actor, filing_id: int) -> FilingRow:
    """A clerk approves a pending (long-term) filing."""
    row = await people.approve_filing(uow.session, filing_id)
    await audit.record(uow.session, actor, "filing.approve", ("filing", str(row.id)), {})
    await uow.commit()
    return row
