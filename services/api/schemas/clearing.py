"""Year-end DIP clearing on the wire: the region's clearing as staff see it, and an institution's
own statement. An institution sees the point value (its DIP amount = its weighted points × the
point value, so it can check its own figure) but not the region's budget or weighted points."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.common import MoneyOut


class StatementRead(BaseModel):
    institution_code: str
    cases: int
    points: str = Field(examples=["990.0000"])
    weighted_points: str = Field(examples=["990.0000"])
    dip_amount: MoneyOut
    claimed: MoneyOut
    before_cap: MoneyOut
    final: MoneyOut
    clearing_ratio: str | None = Field(examples=["0.9658"])
    prepaid: MoneyOut
    difference: MoneyOut = Field(description="> 0 paid to the institution, < 0 recovered")
    unmatched: list[str] = Field(description="cases in no DIP group (paid item by item)")
    unmatched_claimed: MoneyOut
    direction: str = Field(description="pay / recover / none")
    annual_budget: MoneyOut | None = Field(
        default=None,
        description="the cap of the double control: the sum over schemes of the approved budgets in force "
        "(budget_source approved), else institutions.csv (budget_source institutions); "
        "absent on clearings committed before budgets were read",
    )
    budget_source: str | None = Field(default=None, examples=["approved"], description="approved / institutions")


class ClearingRead(BaseModel):
    """The region's clearing (staff)."""

    region: str
    year: int
    committed: bool
    budget: MoneyOut
    weighted_points: str = Field(description="the region's weighted points")
    point_value: str = Field(description="yuan per weighted point (budget / weighted points, shown to 6 decimals)")
    statements: list[StatementRead]


class InstitutionClearingRead(BaseModel):
    """The committed clearing as the institution calling sees it: its own statement."""

    region: str
    year: int
    committed: bool
    point_value: str = Field(description="yuan per weighted point (shown to 6 decimals)")
    statements: list[StatementRead] = Field(description="the caller's own statement")
