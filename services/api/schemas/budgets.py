from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import MoneyOut, PositiveMoney, Strict

Scheme = Literal["resident", "employee"]


class BudgetScope(Strict):
    scheme: Scheme
    region: str | None = Field(default=None, pattern=r"^\d{6}$", description="default: the home region")


class BudgetHistory(BaseModel):
    years: list[int] = Field(examples=[[2023, 2024, 2025]])
    fund_payments: list[MoneyOut]
    cases: list[int]
    weights: list[str] = Field(examples=[["0.2", "0.3", "0.5"]])


class BudgetVersionRead(BaseModel):
    institution_code: str
    year: int
    scheme: Scheme
    version: int
    state: Literal["draft", "proposed", "counter_proposed", "agreed", "approved"]
    amount: MoneyOut
    expected_cases: int
    per_case_quota: MoneyOut | None = Field(description="次均费用: amount ÷ expected cases")
    counter_amount: MoneyOut | None
    reason: str | None
    history: BudgetHistory


class RegionBudgetRead(BaseModel):
    region: str
    year: int
    scheme: Scheme
    base: MoneyOut = Field(description="last year's regional budget, else last year's fund payments")
    rate: str = Field(examples=["-0.02"])
    amount: MoneyOut
    institutions: list[BudgetVersionRead]


class InstitutionBudgetRead(BaseModel):
    year: int
    scheme: Scheme
    institutions: list[BudgetVersionRead] = Field(description="only the caller's own")


class CounterProposal(Strict):
    scheme: Scheme
    amount: PositiveMoney
    reason: str = Field(min_length=1, max_length=500)


class Agreement(Strict):
    scheme: Scheme
    amount: PositiveMoney | None = Field(default=None, description="default: the institution's counter-proposal")


class Adjustment(Strict):
    scheme: Scheme
    amount: PositiveMoney
    reason: str = Field(min_length=1, max_length=500)


class SchemeOnly(Strict):
    scheme: Scheme
