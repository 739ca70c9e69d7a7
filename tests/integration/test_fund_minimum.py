"""Ordinary prepayments stop while a scheme's months of balance are below the policy minimum
(default 6): checked in one transaction that is rolled back, so the balance planted in August
2093 (no other test's month) never reaches another test."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.settlement.helpers import at, china
from yibao.errors import FundBelowMinimum
from yibao.ledger import position
from yibao.money import Fen
from yibao.payouts import advances


async def _move(s: AsyncSession, name: str, account: str, amount: int) -> None:
    await s.execute(
        text(
            "INSERT INTO ledger_postings (movement, source, institution_code, fund, account, amount, "
            "business_date, scheme) VALUES ('manual', :src, 'FUND', 'basic', :acc, :amt, :day, 'employee'), "
            "('manual', :src, 'FUND', 'basic', 'bank', -:amt, :day, 'employee')"
        ),
        {"src": f"test:minimum:{name}", "acc": account, "amt": amount, "day": date(2093, 8, 2)},
    )


async def test_no_ordinary_prepayment_below_the_minimum_months(sessionmaker) -> None:
    async with sessionmaker() as s:
        try:
            # given the employees' balance on 2093-08-20 brought to 6,000.00 with 12,000.00 spent
            # in August: 1,000.00 a month over the last 12 months, exactly 6.00 months
            day = date(2093, 8, 20)
            before = await position.fund_position(s, "employee", day)
            await _move(s, "income", "other_income", before.closing - 600_000 - 1_200_000)
            await _move(s, "spending", "other_spending", 1_200_000)
            with at(china(2093, 8, 20, 9)):
                # when a prepayment (within its institution's maximum) is checked at exactly 6.00
                at_minimum = await advances.check_limit(s, "H-NO-SUCH", 2093, Fen(0))
                # and again with 10.00 less in the fund (5.99 months)
                await _move(s, "less", "other_spending", 1_000)
                with pytest.raises(FundBelowMinimum) as below:
                    await advances.check_limit(s, "H-NO-SUCH", 2093, Fen(0))
        finally:
            await s.rollback()
    # then the minimum itself passes, below it is refused, naming the scheme and its figure
    assert (at_minimum.months_of_balance["employee"], at_minimum.minimum_months) == (Decimal("6.00"), 6)
    assert below.value.code == "FUND_BELOW_MINIMUM" and "employee 5.99" in str(below.value)
