"""Fiscal subsidies (财政补助): each month, 1/12 of the policy's yearly amount per enrolled resident
is booked as due from the treasury (movement ``fiscal_subsidy``, source ``fiscal:<region>:<YYYY-MM>``:
``treasury_receivable`` ← ``fiscal_subsidies`` in the resident pooled fund); the money's arrival is a
manual ``fiscal_subsidy_receipt`` entry (bank ← ``treasury_receivable``).

Enrolled residents: the region's resident enrolments of the year whose coverage has begun by the
month's end. A month is booked once: booking it again answers the first booking."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import text

from yibao import audit, clock
from yibao.db.uow import UnitOfWork
from yibao.errors import InvalidRequest, UnknownRegion
from yibao.ledger import position
from yibao.ledger.income import FUND
from yibao.ledger.postings import post_pair
from yibao.money import Fen
from yibao.policy.repository import is_pooling_region, load_active

_RESIDENTS = text(
    """
    SELECT count(*) FROM enrolments e JOIN persons p ON p.id = e.person_id
    WHERE e.scheme = 'resident' AND e.year = :year AND e.coverage_start <= :until AND p.region = :region
    """
)

_BOOKED = text(
    "SELECT amount, business_date FROM ledger_postings "
    "WHERE movement = 'fiscal_subsidy' AND source = :src AND account = 'treasury_receivable'"
)


@dataclass(frozen=True)
class Booked:
    region: str
    month: str
    residents: int | None  # None: answered from the earlier booking
    amount: Fen
    business_date: date
    created: bool


async def book_month(uow: UnitOfWork, actor: audit.Actor, region: str, year: int, month: int) -> Booked:
    """Book ``year``-``month`` (a month that has begun) for ``region``; audited, committed.

    A month with no enrolled resident books nothing (``created`` false, ``residents`` 0)."""
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise InvalidRequest(f"月份无效 invalid month {year}-{month}")
    today = clock.today()
    if date(year, month, 1) > today:
        raise InvalidRequest("不能预记未来月份 a month that has not begun cannot be booked")
    s = uow.session
    if not await is_pooling_region(s, region):
        raise UnknownRegion(f"统筹区 {region} 不存在 {region} is no pooling region of the reference data")
    label = f"{year:04d}-{month:02d}"
    source = f"fiscal:{region}:{label}"
    first = (await s.execute(_BOOKED, {"src": source})).first()
    if first is not None:
        return Booked(region, label, None, Fen(int(first.amount)), first.business_date, created=False)
    policies = await load_active(s)
    own = policies.get((region, year))
    per_year = (own.fund if own is not None else position.fund_params(policies)).fiscal_subsidy_per_resident
    until = date(year, month, calendar.monthrange(year, month)[1])
    residents = int(await s.scalar(_RESIDENTS, {"year": year, "until": until, "region": region}) or 0)
    amount = Fen(int((Decimal(residents) * per_year / 12).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    day = min(until, today)
    if amount == 0:  # nothing is due: no movement, and no audit entry at every retry of the month
        return Booked(region, label, residents, amount, day, created=False)
    await post_pair(
        s,
        movement="fiscal_subsidy",
        source=source,
        institution_code=FUND,
        fund="basic",
        debit="treasury_receivable",
        credit="fiscal_subsidies",
        amount=amount,
        business_date=day,
        scheme="resident",
    )
    detail = {"region": region, "month": label, "residents": residents, "amount_fen": int(amount)}
    await audit.record(s, actor, "ledger.fiscal_subsidy.booked", ("fiscal_subsidy", source), detail)
    await uow.commit()
    return Booked(region, label, residents, amount, day, created=True)
