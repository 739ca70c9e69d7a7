"""Employers and monthly contribution postings (职工医保缴费) on the wire: money in yuan strings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from api.schemas.common import MoneyIn, MoneyOut, Strict
from api.schemas.people import IdNumber, Region

EXAMPLE_CODE = "91430522MA4L12345T"
CreditCode = Annotated[str, Field(min_length=18, max_length=18, examples=[EXAMPLE_CODE])]
#: a calendar month, 2000-01 … 2100-12
Month = Annotated[str, Field(pattern=r"^(20\d\d|2100)-(0[1-9]|1[0-2])$", examples=["2026-03"])]
MAX_LINES = 20_000

EXAMPLE_POSTING: dict[str, Any] = {
    "month": "2026-03",
    "lines": [
        {"id_number": "430522199001011235", "base": "5000.00"},
        {"id_number": "430522195801011238", "base": "0.00", "retiree": True},
    ],
}


class EmployerCreate(Strict):
    model_config = {
        "json_schema_extra": {"examples": [{"code": EXAMPLE_CODE, "name": "邵东县某机械厂", "region": "430522"}]}
    }

    code: CreditCode = Field(description="统一社会信用代码 unified social credit code (GB 32100, check character)")
    name: Annotated[str, Field(min_length=1, max_length=200, examples=["邵东县某机械厂"])]
    region: Region


class EmployerRead(BaseModel):
    code: str
    name: str
    region: str
    created_at: datetime
    created: bool = Field(default=False, description="false when the code was already registered (idempotent)")


class ContributionLineIn(Strict):
    id_number: IdNumber
    base: MoneyIn = Field(description="月缴费基数 monthly contribution base in yuan (0 only for a retiree)")
    retiree: bool = Field(default=False, description="退休人员: sets the retiree flag on the employee enrolment")


class ContributionPostingCreate(Strict):
    model_config = {"json_schema_extra": {"examples": [EXAMPLE_POSTING]}}

    month: Month
    lines: Annotated[list[ContributionLineIn], Field(min_length=1, max_length=MAX_LINES)]


class ContributionLineRead(BaseModel):
    id_number: str
    base: MoneyOut
    employer_part: MoneyOut = Field(examples=["400.00"])
    employee_part: MoneyOut = Field(examples=["100.00"])
    account_credit: MoneyOut = Field(examples=["100.00"])
    retiree: bool


class ContributionPostingSummary(BaseModel):
    posting_id: int
    employer_code: str
    month: str = Field(examples=["2026-03"])
    line_count: int
    employer_total: MoneyOut
    employee_total: MoneyOut
    account_total: MoneyOut
    credit_reference: str = Field(
        description="reference of the personal-account credits", examples=[f"contrib:{EXAMPLE_CODE}:2026-03"]
    )
    created_at: datetime


class ContributionPostingRead(ContributionPostingSummary):
    created: bool = Field(description="false: this month was already posted with the same lines (replay)")
    lines: list[ContributionLineRead]


class ContributionPage(BaseModel):
    items: list[ContributionPostingSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null at the end")
