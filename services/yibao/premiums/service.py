"""Quote, pay and refund resident premiums; a payment derives the year's enrolment.

A premium buys coverage or is refused; no one pays for nothing. ``quote`` says what is due,
when coverage would start and, in ``refusals``, why a payment would be refused; ``pay`` raises
the first of them, in this order:

* ``PAID_ON_IN_FUTURE``: a payment is dated today at the latest;
* ``PERSON_DECEASED``: a year after the year of death, or a coverage (or a pay-back) that could
  only begin after the death (a newborn covered from birth still can);
* ``PREMIUM_ALREADY_PAID``: a live payment for the year exists;
* ``ALREADY_ENROLLED``: an enrolment the payment would otherwise create is already there
  (typed in by staff): it is never rewritten, and nothing is written;
* a pay-back: ``INVALID_REQUEST`` for a year the person was enrolled in,
  ``PAYBACK_BEFORE_FIRST_ENROLMENT`` for a year before any enrolment (it shortens no wait);
* ``COVERAGE_CANNOT_START``: the waiting period would end after the coverage year; the message
  names the next year to pay for instead.

A pay-back recomputes the derived start of the next enrolment whose coverage has not begun
(today), so the order of payments does not matter. Paying is idempotent on (channel,
reference): the same request again returns the first payment, another request with that
reference is ``IDEMPOTENCY_CONFLICT``. A caller's ``Idempotency-Key`` (the member app) is bound
to its request the same way (``premium_requests``). The payment, the subsidy booking, the
account debit (channel ``account``, through ``yibao.accounts``), the enrolment (through
``yibao.enrolment``, which audits each change with before and after) and the payment's audit
entry commit together: ``pay`` and ``refund`` are the use cases, whether a cashier, a channel
or the member app starts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from yibao import audit, clock
from yibao.accounts import service as accounts
from yibao.db.uow import UnitOfWork
from yibao.enrolment import coverage as cov
from yibao.enrolment import service as enrolment
from yibao.enrolment.orm import EnrolmentRow
from yibao.errors import (
    AlreadyEnrolled,
    CoverageCannotStart,
    DomainError,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    PaidOnInFuture,
    PaybackBeforeFirstEnrolment,
    PersonDeceased,
    PolicyNotFound,
    PremiumAlreadyPaid,
    PremiumAmountMismatch,
    PremiumWindowNotOpen,
    RefundNotAllowed,
)
from yibao.ledger import income
from yibao.money import Fen, to_wire
from yibao.people.orm import PersonGroupRow, PersonRow
from yibao.people.repository import get_by_id_number
from yibao.policy.params import PolicyParams, PremiumParams
from yibao.premiums import rules
from yibao.premiums.orm import PremiumPaymentRow, PremiumRequestRow, SubsidyBookingRow

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
    paid_on: date  # the day the quote is for
    #: when coverage would start if paid on ``paid_on`` (None: a pay-back, or nothing to buy)
    coverage: cov.Coverage | None = None
    #: why a payment on ``paid_on`` would be refused, first reason first (empty: payable)
    refusals: tuple[DomainError, ...] = ()

    @property
    def payable(self) -> bool:
        return not self.refusals


@dataclass(frozen=True)
class Due:
    person: PersonRow
    quote: Quote
    paid: bool  # a live payment for the year exists


async def due(
    session: AsyncSession,
    person: PersonRow | str,
    year: int,
    on: date | None,
    policies: Mapping[tuple[str, int], PolicyParams],
) -> Due:
    """The quote for ``person`` (a row, or an ID number to look up) and ``year`` if paying on
    ``on`` (default today: the member app; staff give the day a channel took the money)."""
    on = on or clock.today()
    _not_in_future(on)
    if isinstance(person, str):
        person = await get_by_id_number(session, person)
    params = premium_params(policies, person.region, year)
    q = await quote(session, person, year, on, params)
    return Due(person, q, await _live_payment(session, person.id, year) is not None)


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
    """What ``person`` owes for ``year`` if paying on ``on`` (groups are those valid that day),
    when coverage would start, and why paying would be refused (the module docstring)."""
    _not_in_future(on)
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
        kind, sub, exempt = "newborn", rules.Subsidy(params.premium, None, "newborn"), None
    else:
        sub, exempt = rules.subsidy(groups, params), rules.exempt_group(groups, params)
    coverage, refusals = await _assess(session, person, year, on, kind, exempt, params)
    return Quote(
        year,
        kind,
        params.premium,
        sub.amount,
        sub.group,
        Fen(params.premium - sub.amount),
        exempt,
        start,
        end,
        on,
        coverage,
        tuple(refusals),
    )


def _not_in_future(on: date) -> None:
    today = clock.today()
    if on > today:
        raise PaidOnInFuture(f"缴费日期 {on} 晚于今天 {today} paid_on {on} is after today ({today})")


async def _assess(
    session: AsyncSession,
    person: PersonRow,
    year: int,
    on: date,
    kind: str,
    exempt_group: str | None,
    params: PremiumParams,
) -> tuple[cov.Coverage | None, list[DomainError]]:
    """(coverage a payment on ``on`` would derive, why it would be refused)."""
    refusals: list[DomainError] = []
    died = person.death_date
    if died is not None and year > died.year:
        refusals.append(
            PersonDeceased(
                f"参保人已于{died}死亡，不能缴纳{year}年度保费 the person died on {died}: no premium for {year}"
            )
        )
    if await _live_payment(session, person.id, year) is not None:
        refusals.append(PremiumAlreadyPaid(f"{year}年度已缴费 the premium for {year} is already paid"))
        return None, refusals
    enrolled = await enrolment_for(session, person.id, year)
    if kind == "payback":
        if enrolled is not None:
            refusals.append(InvalidRequest(f"{year} was not a lapsed year: the person was enrolled"))
        elif not await enrolment.years_before(session, person.id, year):
            refusals.append(
                PaybackBeforeFirstEnrolment(
                    f"{year}年早于首次参保，补缴不能缩短等待期 {year} is before the person's first enrolment: "
                    "paying it back shortens no waiting period"
                )
            )
        if died is not None and on > died and year <= died.year:
            refusals.append(
                PersonDeceased(f"参保人已于{died}死亡，补缴无益 the person died on {died}: a pay-back helps no one")
            )
        return None, refusals
    if enrolled is not None:
        refusals.append(
            AlreadyEnrolled(
                f"{year}年度已参保，自{enrolled.coverage_start}起保障，无需缴费 already enrolled for {year}, "
                f"covered from {enrolled.coverage_start}: nothing to pay"
            )
        )
        return None, refusals
    coverage = await derive_coverage(session, person, year, on, exempt_group, params)
    if coverage.start > date(year, 12, 31):
        nxt_from, nxt_to = cov.window(year + 1, params)
        refusals.append(
            CoverageCannotStart(
                f"{on}缴费，{year}年度保障要到{coverage.start}才开始，已超出该年度；请缴纳{year + 1}年度保费"
                f"（缴费期 {nxt_from} 至 {nxt_to}） paid on {on}, coverage for {year} would only start on "
                f"{coverage.start}, after the year ends: pay for {year + 1} instead "
                f"(collected {nxt_from} – {nxt_to})"
            )
        )
    elif died is not None and coverage.start > died and year <= died.year:
        refusals.append(
            PersonDeceased(
                f"参保人已于{died}死亡，保障要到{coverage.start}才开始 the person died on {died}; "
                f"coverage would only start on {coverage.start}"
            )
        )
    return coverage, refusals


async def _live_payment(session: AsyncSession, person_id: int, year: int) -> PremiumPaymentRow | None:
    """The person's paid (not refunded) payment for ``year``, if any."""
    return await session.scalar(
        select(PremiumPaymentRow).where(
            PremiumPaymentRow.person_id == person_id,
            PremiumPaymentRow.year == year,
            PremiumPaymentRow.status == "paid",
        )
    )


async def _existing(
    session: AsyncSession,
    channel: str,
    reference: str,
    person_id: int,
    year: int,
    amount: Fen,
    paid_on: date | None,
    agent: str | None,
) -> PremiumPaymentRow | None:
    """The payment already recorded under (channel, reference): the same request again (a
    request without ``paid_on`` meant the day it was first recorded) gets it back; another
    request is ``IDEMPOTENCY_CONFLICT``."""
    row = await session.scalar(
        select(PremiumPaymentRow).where(PremiumPaymentRow.channel == channel, PremiumPaymentRow.reference == reference)
    )
    if row is None:
        return None
    same = (row.person_id, row.year, row.amount, row.agent) == (person_id, year, amount, agent)
    if not same or (paid_on is not None and paid_on != row.paid_on):
        raise IdempotencyConflict(
            f"支付流水号 {reference!r} 已用于另一笔缴费 reference already used for another payment request"
        )
    return row


async def derive_coverage(
    session: AsyncSession, person: PersonRow, year: int, paid_on: date, exempt_group: str | None, params: PremiumParams
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
        exempt_group=exempt_group,
        lapsed=lapsed,
        paid_back=back,
        params=params,
    )


@dataclass(frozen=True)
class Paid:
    person: PersonRow
    payment: PremiumPaymentRow
    #: the enrolment the payment created, or (a pay-back) the later one whose wait it counts towards
    enrolment: EnrolmentRow | None
    created: bool


@dataclass(frozen=True)
class Request:
    """A caller's ``Idempotency-Key`` and the request it is bound to (``rules.request_hash``)."""

    caller: str  # e.g. "member:42"
    key: str
    request_hash: str


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
    request: Request | None = None,
) -> Paid:
    """Record a premium payment (see the module docstring), derive or recompute the enrolment,
    audit a new payment (``premium.payment.record``) and commit.

    ``person``: the row, or an ID number to look up. ``channel="account"`` debits ``payer``'s
    personal account (the caller checked the family binding); ``proxy`` needs the village
    ``agent``'s name. The premium rules are those of the person's region for ``year``.
    ``request``: the caller's Idempotency-Key, replayed or refused before anything else.
    """
    s = uow.session
    if request is not None:
        first = await _replay(s, request)
        if first is not None:
            return first
    if paid_on is not None:
        _not_in_future(paid_on)
    if isinstance(person, str):
        person = await get_by_id_number(s, person)
    # one person's payments serialise: a pay-back and a current payment see each other
    await s.execute(select(PersonRow.id).where(PersonRow.id == person.id).with_for_update(key_share=True))
    params = premium_params(policies, person.region, year)
    paid = await _pay(
        s,
        actor,
        person,
        year,
        channel=channel,
        reference=reference,
        amount=amount,
        params=params,
        policies=policies,
        paid_on=paid_on,
        payer=payer,
        agent=agent,
    )
    if request is not None:
        s.add(
            PremiumRequestRow(
                caller=request.caller, key=request.key, request_hash=request.request_hash, payment_id=paid.payment.id
            )
        )
        await s.flush()
    if paid.created:
        subject = ("premium_payment", str(paid.payment.id))
        await audit.record(s, actor, "premium.payment.record", subject, {"channel": channel})
    await uow.commit()
    return paid


async def _replay(session: AsyncSession, request: Request) -> Paid | None:
    """The first answer to this caller's key (``created=False``), ``IDEMPOTENCY_CONFLICT`` for
    another request, or None for a new key. Concurrent requests with one key queue here."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"premium-request:{request.caller}:{request.key}"},
    )
    first = await session.get(PremiumRequestRow, (request.caller, request.key))
    if first is None:
        return None
    if first.request_hash != request.request_hash:
        raise IdempotencyConflict(
            "该 Idempotency-Key 已用于另一笔缴费请求 this Idempotency-Key was used for another payment request"
        )
    payment = await session.get(PremiumPaymentRow, first.payment_id)
    assert payment is not None
    person = await session.get(PersonRow, payment.person_id)
    assert person is not None
    return Paid(person, payment, await _derived_by(session, payment), created=False)


async def _pay(
    session: AsyncSession,
    actor: audit.Actor,
    person: PersonRow,
    year: int,
    *,
    channel: str,
    reference: str,
    amount: Fen,
    params: PremiumParams,
    policies: Mapping[tuple[str, int], PolicyParams],
    paid_on: date | None,
    payer: PersonRow | None,
    agent: str | None,
) -> Paid:
    if channel not in CHANNELS:
        raise InvalidRequest(f"channel must be one of {', '.join(CHANNELS)}")
    if channel == "proxy" and not agent:
        raise InvalidRequest("a proxy payment names the agent paying on behalf")
    first = await _existing(session, channel, reference, person.id, year, amount, paid_on, agent)
    if first is not None:
        return Paid(person, first, await _derived_by(session, first), created=False)
    paid_on = paid_on or clock.today()
    q = await quote(session, person, year, paid_on, params)
    if q.refusals:
        raise q.refusals[0]
    if amount != q.due:
        raise PremiumAmountMismatch(
            f"应缴 {to_wire(q.due)} 元，实缴 {to_wire(amount)} 元 due {to_wire(q.due)}, got {to_wire(amount)}"
        )
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
    if q.kind == "payback":
        derived = await _apply_payback(session, actor, person, year, policies)
    else:
        assert q.coverage is not None
        derived = await enrolment.enrol_from_premium(session, actor, person.id, year, q.coverage)
    await session.flush()
    await income.post_premium(session, row.id)  # the fund's income, in the payment's transaction
    return Paid(person, row, derived, created=True)


async def _after_lapse(session: AsyncSession, person_id: int, year: int, *, lock: bool = False) -> EnrolmentRow | None:
    """The premium-derived resident enrolment that ends the lapse ``year`` belongs to (the
    person's first enrolment after ``year``, if it is one): what a pay-back of ``year`` counts
    towards, and what the answer to a pay-back shows."""
    later = await enrolment.first_year_after(session, person_id, year)
    if later is None:
        return None
    row = await enrolment.get(session, person_id, later, "resident", lock=lock)
    return row if row is not None and row.source == enrolment.PREMIUM else None


async def _derived_by(session: AsyncSession, payment: PremiumPaymentRow) -> EnrolmentRow | None:
    """The enrolment a payment's answer shows: the one it created, or for a pay-back the later
    one whose wait it counts towards."""
    if payment.kind == "payback":
        return await _after_lapse(session, payment.person_id, payment.year)
    return await enrolment_for(session, payment.person_id, payment.year)


async def _apply_payback(
    session: AsyncSession,
    actor: audit.Actor,
    person: PersonRow,
    year: int,
    policies: Mapping[tuple[str, int], PolicyParams],
) -> EnrolmentRow | None:
    """A pay-back of ``year`` shortens the wait of the first enrolment after the lapse, when
    that one was derived from a premium (not a newborn's) and its coverage has not begun today:
    its start is derived again (with this pay-back), never earlier than today (bills already
    settled in the wait stay as they are). Returns that enrolment (moved or not), if any."""
    row = await _after_lapse(session, person.id, year, lock=True)
    today = clock.today()
    if row is None or row.coverage_start <= today:
        return row
    payment = await _live_payment(session, person.id, row.year)
    if payment is None or payment.kind != "current":
        return row
    params = premium_params(policies, person.region, row.year)
    exempt = rules.exempt_group(await groups_on(session, person.id, payment.paid_on), params)
    c = await derive_coverage(session, person, row.year, payment.paid_on, exempt, params)
    if c.start < today:
        c = cov.Coverage(
            today,
            c.reason,
            f"{c.detail}; 补缴于{today}登记，自当日起保障 pay-back recorded on {today}: covered from then",
            c.waiting_months,
        )
    await enrolment.recompute_from_premium(session, actor, row, c)
    return row


@dataclass(frozen=True)
class Refunded:
    person: PersonRow
    payment: PremiumPaymentRow


async def refund(uow: UnitOfWork, actor: audit.Actor, payment_id: int, today: date | None = None) -> Refunded:
    """Refund before the coverage year starts, or whenever the payment's coverage could never
    start inside its year (taken before such payments were refused): the enrolment it derived
    goes, the subsidy and an account debit are reversed; audited (``premium.payment.refund``)
    and committed."""
    s = uow.session
    row = await _refund(s, actor, payment_id, today or clock.today())
    person = await s.get(PersonRow, row.person_id)
    assert person is not None
    await audit.record(s, actor, "premium.payment.refund", ("premium_payment", str(row.id)), {})
    await uow.commit()
    return Refunded(person, row)


async def _refund(session: AsyncSession, actor: audit.Actor, payment_id: int, today: date) -> PremiumPaymentRow:
    row = await session.scalar(select(PremiumPaymentRow).where(PremiumPaymentRow.id == payment_id).with_for_update())
    if row is None:
        raise NotFound(f"缴费记录 {payment_id} 不存在 payment not found")
    if row.status != "paid":
        raise RefundNotAllowed("该笔缴费已退费 this payment was already refunded")
    if row.kind == "payback":
        raise RefundNotAllowed(f"{row.year}年度补缴不能退费 a pay-back of {row.year} is not refunded")
    derived = await enrolment_for(session, row.person_id, row.year)
    never_starts = (
        derived is not None and derived.source == enrolment.PREMIUM and derived.coverage_start > date(row.year, 12, 31)
    )
    if today >= date(row.year, 1, 1) and not never_starts:
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
    await enrolment.remove(session, actor, enrolment.PREMIUM, row.person_id, row.year)
    await session.flush()
    await income.post_premium(session, row.id)  # the refund (and subsidy reversal) leave the fund
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
    """(group, people, net amount in fen) booked to the assistance fund for ``year``: a person
    counts in a group while their bookings there net above zero (a refund reverses them)."""
    per_person = (
        select(
            SubsidyBookingRow.group.label("grp"),
            SubsidyBookingRow.person_id,
            func.sum(SubsidyBookingRow.amount).label("net"),
        )
        .where(SubsidyBookingRow.year == year)
        .group_by(SubsidyBookingRow.group, SubsidyBookingRow.person_id)
        .subquery()
    )
    people = func.count().filter(per_person.c.net > 0)
    total = func.sum(per_person.c.net)
    rows = await session.execute(
        select(per_person.c.grp, people, total)
        .group_by(per_person.c.grp)
        .having((people > 0) | (total != 0))
        .order_by(per_person.c.grp)
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
