from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import MoneyIn, MoneyOut, PositiveMoney, Strict

IdNumber = Annotated[str, Field(min_length=1, max_length=18, examples=["430522199001011235"])]
Region = Annotated[str, Field(pattern=r"^\d{6}$", examples=["430522"])]
Group = Literal["destitute", "orphan", "severe_disability", "min_living", "poverty_monitoring", "marginal"]


class PersonCreate(Strict):
    id_number: IdNumber
    name: Annotated[str, Field(min_length=1, max_length=100, examples=["张三"])]
    region: Region
    death_date: date | None = None


class PersonRead(BaseModel):
    id_number: str = Field(description="full ID: staff only")
    name: str
    region: str
    birth_date: date
    gender: Literal["M", "F"]
    death_date: date | None


class GroupCreate(Strict):
    group: Group
    valid_from: date = Field(examples=["2026-01-01"])
    valid_to: date | None = None


class GroupRead(BaseModel):
    id_number: str
    group: str
    valid_from: date
    valid_to: date | None


class EnrolmentCreate(Strict):
    id_number: IdNumber
    scheme: Literal["resident", "employee"]
    year: Annotated[int, Field(ge=2000, le=2100, examples=[2026])]
    coverage_start: date = Field(examples=["2026-01-01"])
    retiree: bool = False
    continuous_years: Annotated[int, Field(ge=0, le=100)] = 0
    zero_claim_credit: MoneyIn = Field(default="0.00")  # type: ignore[assignment]


class EnrolmentRead(BaseModel):
    id_number: str
    scheme: str
    year: int
    coverage_start: date
    retiree: bool
    continuous_years: int
    zero_claim_credit: MoneyOut


class CreditCreate(Strict):
    amount: PositiveMoney
    reference: Annotated[str, Field(min_length=1, max_length=100, examples=["EMP-202603-0001"])]


class CreditRead(BaseModel):
    id_number: str
    amount: MoneyOut
    reference: str
    balance: MoneyOut = Field(description="balance after this credit")
    created: bool = Field(description="false when the reference was already credited (a retry)")


class FilingCreate(Strict):
    id_number: IdNumber
    to_region: Region
    valid_from: date
    valid_to: date | None = None


class FilingRead(BaseModel):
    id_number: str
    to_region: str
    valid_from: date
    valid_to: date | None
    status: str


class BindingCreate(Strict):
    holder_id_number: IdNumber
    relative_id_number: IdNumber
    relation: Literal["spouse", "parent", "child"]


class BindingRead(BaseModel):
    holder_id_number: str
    relative_id_number: str
    relation: str
