"""Paying institutions on the wire: disbursement orders as staff and as an institution see
them, prepayments, supplier payments.

Staff (finance, inspectors, …) see the county's order: every line, the total and who prepared,
approved and paid it. An institution sees the same order cut to its own lines: ``total`` and
``line_count`` are its own, and no staff member is named."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import MoneyOut, PositiveMoney, Strict


class PrepaymentCreate(Strict):
    institution_code: str = Field(max_length=20, examples=["H430522100"])
    year: int = Field(ge=2000, le=2100, examples=[2026])
    amount: PositiveMoney
    reason: str = Field(default="", max_length=400, examples=["年初预付 start-of-year advance"])
    kind: Literal["ordinary", "procurement"] = Field(
        default="ordinary",
        description="ordinary: at most policy months × the average monthly fund payment of the last 12 months; "
        "procurement (集采): at most the policy share (45 %) of last year's procurement amount, once a year",
    )


class SupplierPaymentCreate(Strict):
    institution_code: str = Field(max_length=20, examples=["H430522100"])
    supplier: str = Field(max_length=200, examples=["国药控股湖南"])
    fund: str = Field(default="basic", pattern="^(basic|critical_illness|assistance)$")
    amount: PositiveMoney
    reference: str = Field(max_length=80, examples=["GPO-2026-0001"], description="one payment per reference")


class DisbursementLineRead(BaseModel):
    """Per institution and fund: settled − cancelled + adjusted − deducted = net."""

    institution_code: str = Field(examples=["H430522100"])
    fund: str = Field(examples=["basic"])
    settled: MoneyOut
    cancelled: MoneyOut
    adjusted: MoneyOut = Field(description="clearing differences, prepayment recovery")
    deducted: MoneyOut = Field(description="deductions taken (see GET /api/v1/deductions)")
    net: MoneyOut


class OrderRead(BaseModel):
    """A disbursement order as staff see it: the whole county's day."""

    id: int
    settle_date: date
    state: str = Field(description="draft / approved / paid")
    total: MoneyOut = Field(description="the sum of every line's net")
    line_count: int
    prepared_by: str
    approved_by: str | None
    paid_by: str | None
    paid_at: datetime | None
    bank_file_sha256: str | None


class OrderDetailRead(OrderRead):
    lines: list[DisbursementLineRead]


class OrderPage(BaseModel):
    items: list[OrderRead]
    next_cursor: date | None = Field(description="pass as `before` for the next page")


class InstitutionOrderRead(BaseModel):
    """A disbursement order as the institution calling sees it: its own share only."""

    id: int
    settle_date: date
    state: str = Field(description="draft / approved / paid")
    paid_at: datetime | None
    institution_code: str = Field(description="the caller")
    total: MoneyOut = Field(description="the sum of the caller's own lines' net")
    line_count: int = Field(description="the caller's own lines (one per fund)")


class InstitutionOrderDetailRead(InstitutionOrderRead):
    lines: list[DisbursementLineRead] = Field(description="the caller's own lines")


class InstitutionOrderPage(BaseModel):
    items: list[InstitutionOrderRead]
    next_cursor: date | None = Field(description="pass as `before` for the next page")


class PrepaymentRead(BaseModel):
    id: int
    institution_code: str
    year: int
    amount: MoneyOut
    kind: str = Field(default="ordinary", description="ordinary / procurement")
    state: str = Field(description="requested / approved / recovered")
    reason: str
    requested_by: str
    approved_by: str | None


class SupplierPaymentRead(BaseModel):
    deduction_id: int = Field(description="the procured_goods deduction booked (GET /api/v1/deductions)")
    reference: str
