from __future__ import annotations

from pydantic import Field

from api.schemas.common import PositiveMoney, Strict


class PrepaymentCreate(Strict):
    institution_code: str = Field(max_length=20, examples=["H430522100"])
    year: int = Field(ge=2000, le=2100, examples=[2026])
    amount: PositiveMoney
    reason: str = Field(default="", max_length=400, examples=["年初预付 start-of-year advance"])


class SupplierPaymentCreate(Strict):
    institution_code: str = Field(max_length=20, examples=["H430522100"])
    supplier: str = Field(max_length=200, examples=["国药控股湖南"])
    fund: str = Field(default="basic", pattern="^(basic|critical_illness|assistance)$")
    amount: PositiveMoney
    reference: str = Field(max_length=80, examples=["GPO-2026-0001"], description="one payment per reference")
