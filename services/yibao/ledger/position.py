"""The fund's position per scheme (DOMAIN §11): opening balance, income and spending by kind,
closing balance, average monthly spending of the last 12 months and months of balance.

  balance            = opening (policy data, on the policy's opening date) + income − spending
  income by kind     credits to premiums / subsidies / contributions / interest /
                     fiscal_subsidies / other_income (a refund or reversal debits them back)
  spending by kind   debits to claims (``bills``: settlements net of cancellations; ``clearing``:
                     year-end adjustments), ``transfers_out`` and ``other_spending``
  months of balance  closing ÷ (spending of the ``lookback_months`` months up to the day ÷ that
                     number), to 0.01; none when nothing was spent

Read set-based: one grouped index-only scan per request (per day, account and movement), the
rest in Python.
The pooled funds (``basic`` and ``critical_illness``) are the default: their months of
balance are the figure the seeds publish (统筹基金累计结余可支付月数).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.errors import InvalidRequest, PolicyNotFound
from yibao.money import to_wire
from yibao.policy.params import FundParams, PolicyParams
from yibao.policy.repository import load_active

SCHEMES = ("resident", "employee")
POOLED = ("basic", "critical_illness")
FUNDS = {"pooled": POOLED, "basic": ("basic",), "critical_illness": ("critical_illness",),
         "assistance": ("assistance",), "personal_account": ("personal_account",),
         "maternity": ("maternity",)}  # fmt: skip
INCOME_ACCOUNTS = ("premiums", "subsidies", "contributions", "interest", "fiscal_subsidies", "other_income")
SPENDING_ACCOUNTS = ("claims", "transfers_out", "other_spending")

#: per day, account and movement (plain columns: grouping by a month expression costs more than the
#: scan); the months are folded in Python. An index-only scan of ``ix_ledger_postings_scheme_flows``.
_DAILY = text(
    """
    SELECT business_date, account, movement, SUM(amount)::bigint AS amount
    FROM ledger_postings
    WHERE scheme = :scheme AND fund = ANY(:funds) AND account = ANY(:accounts) AND account <> 'payable'
      AND business_date >= :since AND business_date <= :until
    GROUP BY 1, 2, 3
    """
)


def _kind(account: str, movement: str) -> str:
    if account != "claims":
        return account
    return "bills" if movement in ("settlement", "cancel") else movement


def shift_months(d: date, months: int) -> date:
    """``d`` moved back ``months`` months (the day clipped to the month's length)."""
    m = d.year * 12 + d.month - 1 - months
    y, mo = divmod(m, 12)
    return date(y, mo + 1, min(d.day, calendar.monthrange(y, mo + 1)[1]))


def months_of_balance(balance: int, monthly_spending: Decimal) -> Decimal | None:
    """balance ÷ average monthly spending, to 0.01 (None when nothing was spent)."""
    if monthly_spending <= 0:
        return None
    return (Decimal(balance) / monthly_spending).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def fund_params(policies: Mapping[tuple[str, int], PolicyParams]) -> FundParams:
    """The fund's numbers: from the earliest loaded policy that sets an opening date (the first
    year the deployment keeps the fund's ledger). The ledger is the deployment's (its legs carry
    no region), so one document's numbers hold for all of it."""
    for key in sorted(policies, key=lambda k: (k[1], k[0])):
        fund = policies[key].fund
        if fund.opening_date is not None:
            return fund
    raise PolicyNotFound("无基金期初余额政策 no loaded policy sets the fund's opening (policy section fund.opening)")


@dataclass(frozen=True)
class Month:
    month: date
    income: dict[str, int]
    spending: dict[str, int]


@dataclass(frozen=True)
class Position:
    scheme: str
    funds: str
    as_of: date
    period_from: date
    opening: int
    income: dict[str, int]
    spending: dict[str, int]
    closing: int
    average_monthly_spending: Decimal
    months_of_balance: Decimal | None
    series: list[dict[str, Any]]

    @property
    def income_total(self) -> int:
        return sum(self.income.values())

    @property
    def spending_total(self) -> int:
        return sum(self.spending.values())

    @property
    def current_period_deficit(self) -> bool:
        return self.income_total < self.spending_total

    @property
    def cumulative_deficit(self) -> bool:
        return self.closing < 0


def _flows(rows: list[tuple[date, str, int]]) -> dict[date, Month]:
    months: dict[date, Month] = {}
    for month, kind, amount in rows:
        m = months.setdefault(month, Month(month, defaultdict(int), defaultdict(int)))
        if kind in INCOME_ACCOUNTS:
            m.income[kind] += -amount
        else:
            m.spending[kind] += amount
    return months


def _net(m: Month | None) -> int:
    return 0 if m is None else sum(m.income.values()) - sum(m.spending.values())


async def position(
    session: AsyncSession, params: FundParams, scheme: str, as_of: date, funds: str = "pooled"
) -> Position:
    """The scheme's position on ``as_of``: the period is ``as_of``'s year up to that day."""
    if scheme not in SCHEMES:
        raise InvalidRequest(f"险种无效 scheme must be one of {', '.join(SCHEMES)}")
    if funds not in FUNDS:
        raise InvalidRequest(f"基金无效 fund must be one of {', '.join(FUNDS)}")
    assert params.opening_date is not None
    start = params.opening_date
    if as_of < start:
        raise InvalidRequest(f"日期早于基金期初 as_of is before the fund's opening date {start.isoformat()}")
    lookback = params.lookback_months
    period_from = max(date(as_of.year, 1, 1), start)
    rows = await session.execute(
        _DAILY,
        {
            "scheme": scheme,
            "funds": list(FUNDS[funds]),
            "accounts": list(INCOME_ACCOUNTS + SPENDING_ACCOUNTS),
            "since": start,
            "until": as_of,
        },
    )
    months = _flows([(r.business_date.replace(day=1), _kind(r.account, r.movement), int(r.amount)) for r in rows])
    opening = (params.opening_balances.get(scheme, 0) if funds in ("pooled", "basic") else 0) + sum(
        _net(m) for k, m in months.items() if k < period_from
    )
    income: dict[str, int] = defaultdict(int)
    spending: dict[str, int] = defaultdict(int)
    for k, m in months.items():
        if k >= period_from.replace(day=1):
            for kind, v in m.income.items():
                income[kind] += v
            for kind, v in m.spending.items():
                spending[kind] += v
    closing = opening + sum(income.values()) - sum(spending.values())
    series: list[dict[str, Any]] = []
    balance = opening
    month = period_from.replace(day=1)
    while month <= as_of:
        flows = months.get(month)
        balance += _net(flows)
        end = min(date(month.year, month.month, calendar.monthrange(month.year, month.month)[1]), as_of)
        average = _average(months, end, lookback)
        series.append(
            {
                "month": month.isoformat()[:7],
                "income": sum(flows.income.values()) if flows else 0,
                "spending": sum(flows.spending.values()) if flows else 0,
                "closing_balance": balance,
                "average_monthly_spending": average,
                "months_of_balance": months_of_balance(balance, average),
            }
        )
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    average = _average(months, as_of, lookback)
    return Position(
        scheme=scheme,
        funds=funds,
        as_of=as_of,
        period_from=period_from,
        opening=opening,
        income=dict(income),
        spending=dict(spending),
        closing=closing,
        average_monthly_spending=average,
        months_of_balance=months_of_balance(closing, average),
        series=series,
    )


def _average(months: dict[date, Month], end: date, lookback: int) -> Decimal:
    """Average monthly spending of the ``lookback`` calendar months ending with ``end``'s month."""
    first = shift_months(end.replace(day=1), lookback - 1)
    total = sum(sum(m.spending.values()) for k, m in months.items() if first <= k <= end)
    return Decimal(total) / lookback


def render(p: Position) -> dict[str, Any]:
    def money(d: Mapping[str, int]) -> dict[str, str]:
        return {k: to_wire(v) for k, v in sorted(d.items())}

    return {
        "scheme": p.scheme,
        "funds": p.funds,
        "as_of": p.as_of.isoformat(),
        "period_from": p.period_from.isoformat(),
        "opening_balance": to_wire(p.opening),
        "income": money(p.income),
        "income_total": to_wire(p.income_total),
        "spending": money(p.spending),
        "spending_total": to_wire(p.spending_total),
        "closing_balance": to_wire(p.closing),
        "average_monthly_spending": _wire_decimal(p.average_monthly_spending),
        "months_of_balance": None if p.months_of_balance is None else str(p.months_of_balance),
        "current_period_deficit": p.current_period_deficit,
        "cumulative_deficit": p.cumulative_deficit,
        "series": [
            {
                **s,
                "income": to_wire(s["income"]),
                "spending": to_wire(s["spending"]),
                "closing_balance": to_wire(s["closing_balance"]),
                "average_monthly_spending": _wire_decimal(s["average_monthly_spending"]),
                "months_of_balance": None if s["months_of_balance"] is None else str(s["months_of_balance"]),
            }
            for s in p.series
        ],
    }


def _wire_decimal(fen: Decimal) -> str:
    """A fen amount that may carry a fraction (an average), as yuan to 0.01."""
    return str((fen / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


CSV_COLUMNS = ("month", "income", "spending", "closing_balance", "average_monthly_spending", "months_of_balance")


def series_csv(p: Position) -> str:
    rendered = render(p)["series"]
    lines = [",".join(CSV_COLUMNS)]
    for s in rendered:
        lines.append(",".join("" if s[c] is None else str(s[c]) for c in CSV_COLUMNS))
    return "\n".join(lines) + "\n"


_INSTITUTION_PAYMENTS = text(
    """
    SELECT COALESCE(SUM(amount), 0)::bigint FROM ledger_postings
    WHERE institution_code = :inst AND fund = ANY(:funds) AND account = 'claims'
      AND business_date > :since AND business_date <= :until
    """
)


async def institution_monthly_payment(
    session: AsyncSession, institution_code: str, until: date, months: int
) -> Decimal:
    """The institution's average monthly fund payment (pooled funds' claims, net of
    cancellations and clearing) over the ``months`` months up to ``until``, in fen."""
    total = await session.scalar(
        _INSTITUTION_PAYMENTS,
        {"inst": institution_code, "funds": list(POOLED), "since": shift_months(until, months), "until": until},
    )
    return Decimal(int(total or 0)) / months


async def fund_position(session: AsyncSession, scheme: str, as_of: date, funds: str = "pooled") -> Position:
    """The position under the loaded policies' fund numbers (see :func:`fund_params`)."""
    return await position(session, fund_params(await load_active(session)), scheme, as_of, funds)
