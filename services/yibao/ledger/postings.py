"""Double-entry postings, written set-based and idempotently (ON CONFLICT DO NOTHING on the leg).

Accounts (``amount`` > 0 debit, < 0 credit):
  claims        the fund's spending on bills (debit balance)
  payable       what the fund owes the institution (credit balance = owed)
  bank          money leaving the fund's bank account (credit balance = paid out)
  recoveries    violation/penalty deductions recovered from an institution
  supplier      goods paid to a supplier on an institution's behalf, recovered by deduction
  prepayment    advances to institutions, recovered at clearing

Settlement legs come from the ``settlements`` table itself (not from event payloads), so the
ledger always reconciles to the bills; the event consumer and the daily settle's catch-up run
the same statement, and whichever comes second writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yibao.clock import CHINA

FUNDS = ("basic", "critical_illness", "assistance", "personal_account")
#: settlements column → ledger fund
FUND_COLUMNS = {
    "basic": "basic_fund",
    "critical_illness": "critical_illness",
    "assistance": "medical_assistance",
    "personal_account": "personal_account",
}
TZ = "Asia/Shanghai"  # PostgreSQL's name for yibao.clock.CHINA (UTC+8, no DST since 1991)

_FUND_VALUES = ", ".join(f"('{fund}', s.{col})" for fund, col in FUND_COLUMNS.items())

_POST_BILLS = f"""
INSERT INTO ledger_postings (movement, source, institution_code, fund, account, amount, business_date)
SELECT m.movement, s.id::text, s.institution_code, f.fund, a.account, a.sign * m.sign * f.amount,
       (m.at AT TIME ZONE '{TZ}')::date
FROM settlements s
CROSS JOIN LATERAL (VALUES ('settlement', 1, s.settled_at), ('cancel', -1, s.cancelled_at)) AS m(movement, sign, at)
CROSS JOIN LATERAL (VALUES {_FUND_VALUES}) AS f(fund, amount)
CROSS JOIN LATERAL (VALUES ('claims', 1), ('payable', -1)) AS a(account, sign)
WHERE m.at IS NOT NULL AND f.amount <> 0 AND m.movement = ANY(:movements) AND ({{where}})
ON CONFLICT ON CONSTRAINT uq_ledger_postings_movement_leg DO NOTHING
"""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a China-time business day, as aware datetimes."""
    start = datetime.combine(day, time.min, tzinfo=CHINA)
    return start, start + timedelta(days=1)


async def post_settlements(session: AsyncSession, ids: Sequence[uuid.UUID], movements: Sequence[str]) -> int:
    """Post the given bills' settlement and/or cancel movements; returns legs written."""
    result = await session.execute(
        text(_POST_BILLS.format(where="s.id = ANY(:ids)")), {"ids": list(ids), "movements": list(movements)}
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def post_day(session: AsyncSession, day: date) -> int:
    """Catch up every bill settled or cancelled on ``day`` (China time) that is not posted yet.

    Why: the daily settle must not depend on the event consumer being up to date; the stored
    timestamps decide the day, so a bill committed at 23:59:59.999 belongs to that day whatever
    time its event arrives."""
    start, end = day_bounds(day)
    settled = await session.execute(
        text(_POST_BILLS.format(where="s.settled_at >= :start AND s.settled_at < :end")),
        {"start": start, "end": end, "movements": ["settlement"]},
    )
    cancelled = await session.execute(
        text(_POST_BILLS.format(where="s.cancelled_at >= :start AND s.cancelled_at < :end")),
        {"start": start, "end": end, "movements": ["cancel"]},
    )
    return int(settled.rowcount or 0) + int(cancelled.rowcount or 0)  # type: ignore[attr-defined]


async def post_pair(
    session: AsyncSession,
    *,
    movement: str,
    source: str,
    institution_code: str,
    fund: str,
    debit: str,
    credit: str,
    amount: int,
    business_date: date,
    settle_date: date | None = None,
) -> bool:
    """One two-legged movement (debit ``debit``, credit ``credit``); ``False`` if already posted.

    ``settle_date`` marks a payable leg as already accounted for by a daily settle, so later
    daily settles do not take it again."""
    if amount == 0:
        return False
    result = await session.execute(
        text(
            """
            INSERT INTO ledger_postings
                (movement, source, institution_code, fund, account, amount, business_date, settle_date)
            VALUES (:m, :src, :inst, :fund, :debit, :amount, :day, :debit_sd),
                   (:m, :src, :inst, :fund, :credit, -:amount, :day, :credit_sd)
            ON CONFLICT ON CONSTRAINT uq_ledger_postings_movement_leg DO NOTHING
            """
        ),
        {
            "m": movement, "src": source, "inst": institution_code, "fund": fund, "debit": debit,
            "credit": credit, "amount": amount, "day": business_date,
            "debit_sd": settle_date if debit == "payable" else None,
            "credit_sd": settle_date if credit == "payable" else None,
        },
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
