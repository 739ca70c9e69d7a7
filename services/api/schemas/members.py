from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import MoneyIn, MoneyOut, Strict
from api.schemas.people import IdNumber, Region
from api.schemas.settlements import SettlementRead


class ActivationCodeRead(BaseModel):
    id_number: str
    activation_code: str = Field(description="single use; hand it to the person; shown once", examples=["yba_…"])
    expires_at: datetime


class ActivateRequest(Strict):
    activation_code: Annotated[str, Field(min_length=8, max_length=100, examples=["yba_3q2…"])]


class TokenRead(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`", examples=["ybm_…"])
    expires_at: datetime


class RelativeRead(BaseModel):
    id_number: str
    name: str
    relation: str


class MeRead(BaseModel):
    id_number: str = Field(description="members see their own full ID")
    name: str
    region: str
    birth_date: date
    gender: str
    relatives: list[RelativeRead] = Field(description="people bound to my account: I may act for them")


class EnrolmentStatus(BaseModel):
    id_number: str
    year: int
    scheme: str
    enrolled: bool
    coverage_start: date | None = Field(examples=["2026-04-10"])
    coverage_reason: str | None = Field(
        description="IN_WINDOW, NEWBORN, SPECIAL_GROUP, WAITING_OUTSIDE_WINDOW, WAITING_LAPSED, EMPLOYEE, STAFF",
        examples=["WAITING_OUTSIDE_WINDOW"],
    )
    coverage_detail: str | None
    waiting_months: int
    continuous_years: int
    zero_claim_credit: MoneyOut


class PremiumDue(BaseModel):
    id_number: str
    year: int
    kind: Literal["current", "payback", "newborn"]
    premium: MoneyOut
    subsidy: MoneyOut
    subsidy_group: str | None
    due: MoneyOut
    window_from: date
    window_to: date
    paid: bool


class MemberPayRequest(Strict):
    model_config = {
        "json_schema_extra": {
            "examples": [{"year": 2026, "amount": "400.00", "source": "app", "payment_reference": "WX-20251015-0001"}]
        }
    }

    year: Annotated[int, Field(ge=2000, le=2100)]
    amount: MoneyIn
    source: Literal["app", "account"] = Field(
        description="`app`: paid through the app's cash gateway (give its `payment_reference`); "
        "`account`: debit my personal account (family sharing for a bound relative)"
    )
    payment_reference: Annotated[str | None, Field(max_length=100)] = None
    id_number: Annotated[str | None, Field(max_length=18, description="a bound relative; default: myself")] = None


class PaymentRead(BaseModel):
    payment_id: int
    id_number: str
    year: int
    kind: str
    channel: str
    reference: str
    premium: MoneyOut
    subsidy: MoneyOut
    subsidy_group: str | None
    amount: MoneyOut
    paid_on: date
    status: str
    created: bool = True
    enrolment: EnrolmentStatus | None = None


class MovementRead(BaseModel):
    amount: MoneyOut
    kind: str
    reference: str
    at: datetime


class AccountRead(BaseModel):
    id_number: str
    balance: MoneyOut
    movements: list[MovementRead]


class BindingAsk(Strict):
    relative_id_number: IdNumber
    relative_name: Annotated[str, Field(min_length=1, max_length=100)]
    relation: Literal["spouse", "parent", "child"]


class BindingRequestRead(BaseModel):
    request_id: int
    holder_id_number: str
    relative_id_number: str
    relation: str
    status: str


class MemberFilingCreate(Strict):
    to_region: Region
    valid_from: date
    valid_to: date | None = None
    id_number: Annotated[str | None, Field(max_length=18)] = None


class MemberFilingRead(BaseModel):
    filing_id: int
    to_region: str
    valid_from: date
    valid_to: date | None
    kind: Literal["temporary", "long_term"]
    status: str


class MemberCodeRead(BaseModel):
    member_code: str = Field(description="render as a QR code; the institution sends it as `member_code`")
    expires_at: datetime


class MemberSettlements(BaseModel):
    items: list[SettlementRead]
