"""Quote, pay and refund resident premiums; a payment derives the year's enrolment.

Paying is idempotent on (channel, reference): a channel's retry returns the first payment.
The payment, the subsidy booking, the account debit (channel ``account``, through
``yibao.accounts``), the enrolment with its derived coverage start and reason (through
``yibao.enrolment``) and the audit entry commit together: ``pay`` and ``refund`` are the use
cases, whether a cashier, a channel or the member app starts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.accounts import service as accounts
from yibao.db.uow import UnitOfWork
from yibao.enrolment import coverage as cov
from yibao.enrolment import service as enrolment
from yibao.enrolment.orm import EnrolmentRow
from yibao.errors import (
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    PolicyNotFound,
    PremiumAlreadyPaid,
    PremiumAmountMismatch,
    PremiumWindowNotOpen,
    RefundNotAllowed,
)
from yibao.money import Fen, to_wire
from yibao.people.orm import PersonGroupRow, PersonRow
from yibao.people.repository import get_by_id_number
from yibao.policy.params import PolicyParams, PremiumParams
from yibao.premiums import rules
from yibao.premiums.orm import PremiumPaymentRow, SubsidyBookingRow

CHANNELS = ("app", "wechat", "bank", "tax", "counter", "proxy", "account")


@dataclass(frozen=True)
class Quote:
    year: int
    kind: str  # current / payback / newborn
    premium: Fen
    subsidy: Fen
    subsidy_group: str | None
    due: Fen
    exempt_group: str | None
    window_from: date
    window_to: date


async def groups_on(session: AsyncSession, person_id: int, on: date) -> list[str]:
    """Special groups valid on ``on`` (civil-affairs tags with validity ranges)."""
    rows = await session.scalars(
        select(PersonGroupRow.group).where(
            PersonGroupRow.person_id == person_id,
            PersonGroupRow.valid_from <= on,
            (PersonGroupRow.valid_to.is_(None)) | (PersonGroupRow.valid_to >= on),
        )
    )
    return list(rows)


async def quote(session: AsyncSession, person: PersonRow, year: int, on: date, params: PremiumParams) -> Quote:
    """What ``person`` owes for ``year`` if paying on ``on``: groups are those valid on that day."""
    start, end = cov.window(year, params)
    if on < start:
        raise PremiumWindowNotOpen(f"{year}年度缴费自{start}开始 collection for {year} opens on {start}")
    groups = await groups_on(session, person.id, on)
    kind = "payback" if on > date(year, 12, 31) else "current"
    if (
        kind == "current"
        and params.waiting.newborn_premium_waived
        and cov.is_newborn(year, person.birth_date, on, params)
    ):
        return Quote(year, "newborn", params.premium, params.premium, None, Fen(0), None, start, end)
    sub = rules.subsidy(groups, params)
    return Quote(
        year,
        kind,
        params.premium,
        sub.amount,
        sub.group,
        Fen(params.premium - sub.amount),
        rules.exempt_group(groups, params),
        start,
        end,
    )


async def _existing(
    session: AsyncSession, channel: str, reference: str, person_id: int, year: int, amount: Fen
) -> PremiumPaymentRow | None:
    row = await session.scalar(
        select(PremiumPaymentRow).where(PremiumPaymentRow.channel == channel, PremiumPaymentRow.reference == reference)
    )
    if row is not None and (row.person_id, row.year, row.amount) != (person_id, year, amount):
        raise IdempotencyConflict(
            f"支付流水号 {reference!r} 已用于另一笔缴费 reference already used for another payment"
        )
    return row


async def derive_coverage(
    session: AsyncSession, person: PersonRow, year: int, paid_on: date, q: Quote, params: PremiumParams
) -> cov.Coverage:
    """Coverage start from the enrolment history (lapses) and paid-back years."""
    enrolled = await enrolment.years_before(session, person.id, year)
    paid_back = set(
        await session.scalars(
            select(PremiumPaymentRow.year).where(
                PremiumPaymentRow.person_id == person.id,
                PremiumPaymentRow.kind == "payback",
                PremiumPaymentRow.status == "paid",
            )
        )
    )
    lapsed, back = cov.lapsed_years(year, enrolled, paid_back)
    return cov.resident_coverage(
        year=year,
        paid_on=paid_on,
        birth_date=person.birth_date,
        exempt_group=q.exempt_group,
        lapsed=lapsed,
        paid_back=back,
        params=params,
    )


@dataclass(frozen=True)
class Paid:
    person: PersonRow
    payment: PremiumPaymentRow
    enrolment: EnrolmentRow | None
    created: bool


async def enrolment_for(session: AsyncSession, person_id: int, year: int) -> EnrolmentRow | None:
    """The person's resident enrolment of ``year`` (the one a premium derives)."""
    return await enrolment.get(session, person_id, year, "resident")


async def pay(
    uow: UnitOfWork,
    actor: audit.Actor,
    person: PersonRow | str,
    year: int,
    *,
    channel: str,
    reference: str,
    amount: Fen,
    policies: Mapping[tuple[str, int], PolicyParams],
    paid_on: date | None = None,
    payer: PersonRow | None = None,
    agent: str | None = None,
) -> Paid:
    """Record a premium payment (idempotent on channel + reference), derive the enrolment,
    audit a new payment (``premium.payment.record``) and commit.

    ``person``: the row, or an ID number to look up. ``channel="account"`` debits ``payer``'s
    personal account (the caller checked the family binding); ``proxy`` needs the village
    ``agent``'s name. The premium rules are those of the person's region for ``year``.
    """
    s = uow.session
    if isinstance(person, str):
        person = await get_by_id_number(s, person)
    params = premium_params(policies, person.region, year)
    paid = await _pay(
        s,
        person,
        year,
        channel=channel,
        reference=reference,
        amount=amount,
        params=params,
        paid_on=paid_on,
        payer=payer,
        agent=agent,
    )
    if paid.created:
        subject = ("premium_payment", str(paid.payment.id))
        await audit.record(s, actor, "premium.payment.record", subject, {"channel": channel})
    await uow.commit()
    return paid


async def _pay(
    session: AsyncSession,
    person: PersonRow,
    year: int,
    *,
    channel: str,
    reference: str,
    amount: Fen,
    params: PremiumParams,
    paid_on: date | None,
    payer: PersonRow | None,
    agent: str | None,
) -> Paid:
    if channel not in CHANNELS:
        raise InvalidRequest(f"channel must be one of {', '.join(CHANNELS)}")
    if channel == "proxy" and not agent:
        raise InvalidRequest("a proxy payment names the agent paying on behalf")
    first = await _existing(session, channel, reference, person.id, year, amount)
    if first is not None:
        return Paid(person, first, await enrolment_for(session, person.id, year), created=False)
    paid_on = paid_on or clock.today()
    q = await quote(session, person, year, paid_on, params)
    if amount != q.due:
        raise PremiumAmountMismatch(
            f"应缴 {to_wire(q.due)} 元，实缴 {to_wire(amount)} 元 due {to_wire(q.due)}, got {to_wire(amount)}"
        )
    if q.kind == "payback" and await enrolment_for(session, person.id, year) is not None:
        raise InvalidRequest(f"{year} was not a lapsed year: the person was enrolled")
    row = PremiumPaymentRow(
        person_id=person.id,
        year=year,
        kind=q.kind,
        channel=channel,
        reference=reference,
        payer_person_id=(payer or person).id,
        agent=agent,
        premium=q.premium,
        subsidy=q.subsidy,
        subsidy_group=q.subsidy_group,
        amount=amount,
        paid_on=paid_on,
        status="paid",
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise PremiumAlreadyPaid(f"{year}年度已缴费 the premium for {year} is already paid") from None
    if channel == "account" and amount > 0:
        await accounts.debit(
            session, (payer or person).id, amount, kind="premium", reference=f"PREMIUM-{row.id}", what="premium"
        )
    if q.subsidy > 0:
        session.add(
            SubsidyBookingRow(
                payment_id=row.id,
                person_id=person.id,
                year=year,
                group=q.subsidy_group or "newborn",
                fund="assistance",
                kind="booking",
                amount=q.subsidy,
                booked_on=paid_on,
            )
        )
    derived = None
    if q.kind != "payback":
        c = await derive_coverage(session, person, year, paid_on, q, params)
        await enrolment.upsert_derived(session, enrolment.PREMIUM, year, [enrolment.Derived(person.id, c)])
        derived = await enrolment.get(session, person.id, year, "resident", fresh=True)
        assert derived is not None
    await session.flush()
    return Paid(person, row, derived, created=True)


@dataclass(frozen=True)
class Refunded:
    person: PersonRow
    payment: PremiumPaymentRow


async def refund(uow: UnitOfWork, actor: audit.Actor, payment_id: int, today: date | None = None) -> Refunded:
    """Refund before the coverage year starts: the enrolment it derived goes, the subsidy and an
    account debit are reversed; audited (``premium.payment.refund``) and committed."""
    s = uow.session
    row = await _refund(s, payment_id, today or clock.today())
    person = await s.get(PersonRow, row.person_id)
    assert person is not None
    await audit.record(s, actor, "premium.payment.refund", ("premium_payment", str(row.id)), {})
    await uow.commit()
    return Refunded(person, row)


async def _refund(session: AsyncSession, payment_id: int, today: date) -> PremiumPaymentRow:
    row = await session.scalar(select(PremiumPaymentRow).where(PremiumPaymentRow.id == payment_id).with_for_update())
    if row is None:
        raise NotFound(f"缴费记录 {payment_id} 不存在 payment not found")
    if row.status != "paid":
        raise RefundNotAllowed("该笔缴费已退费 this payment was already refunded")
    if row.kind == "payback" or today >= date(row.year, 1, 1):
        raise RefundNotAllowed(f"{row.year}年度保障已开始，不能退费 the coverage year {row.year} has started")
    row.status = "refunded"
    row.refunded_at = clock.now()
    if row.subsidy > 0:
        session.add(
            SubsidyBookingRow(
                payment_id=row.id,
                person_id=row.person_id,
                year=row.year,
                group=row.subsidy_group or "newborn",
                fund="assistance",
                kind="reversal",
                amount=-row.subsidy,
                booked_on=today,
            )
        )
    if row.channel == "account" and row.amount > 0 and row.payer_person_id is not None:
        await accounts.reverse(
            session, row.payer_person_id, Fen(row.amount), kind="premium_refund", reference=f"PREMIUM-REFUND-{row.id}"
        )
    await enrolment.remove(session, enrolment.PREMIUM, row.person_id, row.year)
    await session.flush()
    return row


async def payments_of(session: AsyncSession, person_ids: list[int]) -> list[PremiumPaymentRow]:
    return list(
        await session.scalars(
            select(PremiumPaymentRow)
            .where(PremiumPaymentRow.person_id.in_(person_ids))
            .order_by(PremiumPaymentRow.id.desc())
        )
    )


async def subsidy_totals(session: AsyncSession, year: int) -> list[tuple[str, int, int]]:
    """(group, people, net amount in fen) booked to the assistance fund for ``year``."""
    rows = await session.execute(
        select(
            SubsidyBookingRow.group,
            func.count(func.distinct(SubsidyBookingRow.person_id)).filter(SubsidyBookingRow.kind == "booking"),
            func.sum(SubsidyBookingRow.amount),
        )
        .where(SubsidyBookingRow.year == year)
        .group_by(SubsidyBookingRow.group)
        .order_by(SubsidyBookingRow.group)
    )
    return [(g, int(n), int(a or 0)) for g, n, a in rows]


def premium_params(policies: Mapping[tuple[str, int], PolicyParams], region: str, year: int) -> PremiumParams:
    """The year's premium rules; a pay-back of a year older than any loaded policy uses the
    region's earliest loaded one (old years' documents are often not loaded)."""
    if (region, year) in policies:
        return policies[(region, year)].premium
    years = sorted(y for r, y in policies if r == region)
    if years and year < years[0]:
        return policies[(region, years[0])].premium
    raise PolicyNotFound(f"统筹区 {region} 无 {year} 年度政策 no policy loaded for region {region}, year {year}")
