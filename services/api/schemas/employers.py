"""Employers and monthly contribution postings (职工医保缴费) on the wire: money in yuan strings."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field

from api.schemas.common import MoneyIn, MoneyOut, Strict, fen
from api.schemas.people import IdNumber, Region
from yibao.employers.rules import LineIn, month_label
from yibao.employers.service import credit_reference
from yibao.money import to_wire

if TYPE_CHECKING:
    from yibao.employers.orm import ContributionPostingRow, EmployerRow
    from yibao.employers.service import LineOut, Posted

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

    @classmethod
    def of(cls, row: EmployerRow, created: bool = False) -> EmployerRead:
        return cls(code=row.code, name=row.name, region=row.region, created_at=row.created_at, created=created)


class ContributionLineIn(Strict):
    id_number: IdNumber
    base: MoneyIn = Field(description="月缴费基数 monthly contribution base in yuan (0 only for a retiree)")
    retiree: bool = Field(default=False, description="退休人员: sets the retiree flag on the employee enrolment")


class ContributionPostingCreate(Strict):
    model_config = {"json_schema_extra": {"examples": [EXAMPLE_POSTING]}}

    month: Month
    lines: Annotated[list[ContributionLineIn], Field(min_length=1, max_length=MAX_LINES)]

    def to_lines(self) -> list[LineIn]:
        return [LineIn(ln.id_number, fen(ln.base), ln.retiree) for ln in self.lines]


class ContributionLineRead(BaseModel):
    id_number: str
    base: MoneyOut
    employer_part: MoneyOut = Field(examples=["400.00"])
    employee_part: MoneyOut = Field(examples=["100.00"])
    account_credit: MoneyOut = Field(examples=["100.00"])
    retiree: bool

    @classmethod
    def of(cls, ln: LineOut) -> ContributionLineRead:
        return cls(
            id_number=ln.id_number,
            base=to_wire(ln.base),
            employer_part=to_wire(ln.employer_part),
            employee_part=to_wire(ln.employee_part),
            account_credit=to_wire(ln.account_credit),
            retiree=ln.retiree,
        )


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

    @classmethod
    def of(cls, p: ContributionPostingRow, code: str, line_count: int) -> ContributionPostingSummary:
        return cls(
            posting_id=p.id,
            employer_code=code,
            month=month_label(p.month),
            line_count=line_count,
            employer_total=to_wire(p.employer_total),
            employee_total=to_wire(p.employee_total),
            account_total=to_wire(p.account_total),
            credit_reference=credit_reference(code, p.month),
            created_at=p.created_at,
        )


class ContributionPostingRead(ContributionPostingSummary):
    created: bool = Field(description="false: this month was already posted with the same lines (replay)")
    lines: list[ContributionLineRead]

    @classmethod
    def of_posted(cls, posted: Posted) -> ContributionPostingRead:
        summary = ContributionPostingSummary.of(posted.posting, posted.employer.code, len(posted.lines))
        return cls(
            **summary.model_dump(),
            created=posted.created,
            lines=[ContributionLineRead.of(ln) for ln in posted.lines],
        )


class ContributionPage(BaseModel):
    items: list[ContributionPostingSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null at the end")
