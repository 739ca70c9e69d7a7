"""Fund reports from the ledger: per day or month and fund, what was spent, recovered, paid out
and how the payable moved. The accounting rules (which account and movement count as what)
live here, next to the postings they read.

  spending        debits to ``claims`` (bills, cancellations and clearing adjustments net)
  income          credits to ``recoveries`` / ``supplier`` / ``prepayment`` by a deduction or a
                  prepayment recovery: money the fund got back from institutions
  paid_out        credits to ``bank``: money that left the fund's bank account
  payable_change  credits to ``payable``: what the fund owes institutions grew by (negative: fell)

Only the legs with institutions: the fund's own income (premiums, contributions, subsidies,
fiscal subsidies, manual entries; ``institution_code`` ``FUND``) is in the fund position
(``yibao.ledger.position``), so money coming into the bank never nets against ``paid_out``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.errors import InvalidRequest
from yibao.money import to_wire

Period = Literal["day", "month"]
#: the longest range one report covers
MAX_DAYS = 800

_FUNDS = text(
    """
    SELECT date_trunc(:unit, business_date)::date AS period, fund,
           COALESCE(SUM(amount) FILTER (WHERE account = 'claims'), 0)::bigint AS spending,
           COALESCE(-SUM(amount) FILTER (WHERE account IN ('recoveries', 'supplier', 'prepayment')
                                         AND movement IN ('deduction', 'prepayment_recovery')), 0)::bigint AS income,
           COALESCE(-SUM(amount) FILTER (WHERE account = 'bank'), 0)::bigint AS paid_out,
           COALESCE(-SUM(amount) FILTER (WHERE account = 'payable'), 0)::bigint AS payable_change
    FROM ledger_postings
    WHERE business_date >= :from AND business_date <= :to AND institution_code <> 'FUND'
    GROUP BY 1, 2 ORDER BY 1, 2
    """
)


async def funds(session: AsyncSession, date_from: date, date_to: date, period: Period = "day") -> dict[str, Any]:
    """Per period (a day, or a month as ``YYYY-MM``) and fund, in business dates [from, to]."""
    if date_to < date_from or (date_to - date_from).days > MAX_DAYS:
        raise InvalidRequest(f"日期范围无效 `to` must be on or after `from`, at most {MAX_DAYS} days")
    rows = await session.execute(_FUNDS, {"unit": period, "from": date_from, "to": date_to})
    items = [
        {
            "period": r.period.isoformat() if period == "day" else r.period.isoformat()[:7],
            "fund": r.fund,
            "spending": to_wire(r.spending),
            "income": to_wire(r.income),
            "paid_out": to_wire(r.paid_out),
            "payable_change": to_wire(r.payable_change),
        }
        for r in rows
    ]
    return {"period": period, "items": items}
