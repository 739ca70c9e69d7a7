"""Deductions (扣款) on the wire: what an institution owes the fund and how daily settles take it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.schemas.common import MoneyOut


class DeductionTakeRead(BaseModel):
    """What one daily settle took of the deduction."""

    order_id: int | None = Field(description="the disbursement order of that settle date")
    settle_date: date
    amount: MoneyOut


class DeductionRead(BaseModel):
    id: int
    institution_code: str
    fund: str = Field(examples=["basic"])
    kind: str = Field(examples=["violation"], description="violation / penalty / procured_goods")
    source_type: str = Field(
        examples=["suspect"], description="suspect (monitoring) / supplier_payment (procured goods) / other"
    )
    source: str = Field(examples=["suspect:42"], description="what caused it: `suspect:<id>`, a supplier reference")
    note: str
    amount: MoneyOut
    taken: MoneyOut = Field(description="taken by daily settles so far")
    remaining: MoneyOut = Field(description="not taken yet: carries forward to the next daily settles")
    status: str = Field(description="open (nothing taken) / partial / taken")
    due_on: date = Field(description="the first settle date that may take it")
    created_at: datetime | None
    takes: list[DeductionTakeRead] = Field(description="which orders took it, oldest first")


class DeductionPage(BaseModel):
    items: list[DeductionRead]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page")
