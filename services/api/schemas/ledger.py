from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import MoneyOut, PositiveMoney, Strict

#: months of balance on the wire: a decimal string to 0.01, or null when nothing was spent
Months = str | None


class FundMonthRead(BaseModel):
    month: str = Field(examples=["2026-03"])
    income: MoneyOut
    spending: MoneyOut
    closing_balance: MoneyOut
    average_monthly_spending: MoneyOut
    months_of_balance: Months = Field(examples=["6.98"])


class FundPositionRead(BaseModel):
    scheme: Literal["resident", "employee"]
    funds: str = Field(examples=["pooled"], description="pooled = basic + critical_illness")
    as_of: date
    period_from: date = Field(description="the period is as_of's year (from the fund's opening date at the latest)")
    opening_balance: MoneyOut
    income: dict[str, MoneyOut] = Field(
        examples=[{"premiums": "400.00", "subsidies": "160.00", "contributions": "0.00"}],
        description="by kind: premiums, subsidies, contributions, interest, fiscal_subsidies, other_income",
    )
    income_total: MoneyOut
    spending: dict[str, MoneyOut] = Field(
        examples=[{"bills": "784.00"}], description="by kind: bills, clearing, transfers_out, other_spending"
    )
    spending_total: MoneyOut
    closing_balance: MoneyOut
    average_monthly_spending: MoneyOut = Field(description="of the last 12 calendar months up to as_of")
    months_of_balance: Months = Field(examples=["29.61"])
    current_period_deficit: bool
    cumulative_deficit: bool
    series: list[FundMonthRead]


class JournalCreate(Strict):
    kind: Literal["interest", "fiscal_subsidy_receivable", "fiscal_subsidy_receipt", "other_income", "other_spending"]
    scheme: Literal["resident", "employee"]
    fund: Literal["basic", "critical_illness", "assistance", "personal_account", "maternity"] = "basic"
    amount: PositiveMoney
    business_date: date
    reason: str = Field(min_length=1, max_length=500, examples=["2026年二季度银行存款利息 Q2 bank interest"])


class JournalRead(BaseModel):
    id: int
    kind: str
    scheme: str
    fund: str
    debit: str
    credit: str
    amount: MoneyOut
    business_date: date
    reason: str
    state: Literal["proposed", "posted"]
    made_by: str
    checked_by: str | None


class BackfillRead(BaseModel):
    premiums: int = Field(description="legs written for premiums and refunds")
    subsidies: int
    contributions: int


class FiscalSubsidyCreate(Strict):
    year: int = Field(ge=2000, le=2100, examples=[2026])
    month: int = Field(ge=1, le=12, examples=[11])
    region: str | None = Field(default=None, pattern=r"^\d{6}$", description="default: the home region")


class FiscalSubsidyRead(BaseModel):
    region: str
    month: str = Field(examples=["2026-11"])
    residents: int | None = Field(description="enrolled residents counted (null: answered from the first booking)")
    amount: MoneyOut
    business_date: date
    created: bool
