from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal, cast

from pydantic import BaseModel, Field

from api.schemas.common import MoneyIn, MoneyOut, Strict
from api.schemas.people import IdNumber, Region
from api.schemas.settlements import SettlementRead
from yibao.money import to_wire
from yibao.people.service import filing_kind

if TYPE_CHECKING:
    from yibao.accounts.orm import AccountMovementRow
    from yibao.enrolment.orm import EnrolmentRow
    from yibao.members.service import Binding, Me
    from yibao.people.orm import FilingRow
    from yibao.premiums.orm import PremiumPaymentRow
    from yibao.premiums.service import Due


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

    @classmethod
    def of(cls, me: Me) -> MeRead:
        p = me.person
        return cls(
            id_number=p.id_number,
            name=p.name,
            region=p.region,
            birth_date=p.birth_date,
            gender=p.gender,
            relatives=[RelativeRead(id_number=r.id_number, name=r.name, relation=rel) for r, rel in me.relatives],
        )


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

    @classmethod
    def of(cls, id_number: str, year: int, row: EnrolmentRow | None, scheme: str = "resident") -> EnrolmentStatus:
        return cls(
            id_number=id_number,
            year=row.year if row else year,
            scheme=row.scheme if row else scheme,
            enrolled=row is not None,
            coverage_start=row.coverage_start if row else None,
            coverage_reason=row.coverage_reason if row else None,
            coverage_detail=row.coverage_detail if row else None,
            waiting_months=row.waiting_months if row else 0,
            continuous_years=row.continuous_years if row else 0,
            zero_claim_credit=to_wire(row.zero_claim_credit if row else 0),
        )


class QuoteWarning(BaseModel):
    code: str = Field(
        description="the error code a payment on `paid_on` would be refused with: PERSON_DECEASED, "
        "PREMIUM_ALREADY_PAID, ALREADY_ENROLLED, INVALID_REQUEST (a pay-back of an enrolled year), "
        "PAYBACK_BEFORE_FIRST_ENROLMENT, COVERAGE_CANNOT_START",
        examples=["COVERAGE_CANNOT_START"],
    )
    message: str


class PremiumDue(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id_number": "430522199001011235",
                    "year": 2026,
                    "kind": "current",
                    "premium": "400.00",
                    "subsidy": "0.00",
                    "subsidy_group": None,
                    "due": "400.00",
                    "window_from": "2025-09-01",
                    "window_to": "2025-12-31",
                    "paid": False,
                    "paid_on": "2026-12-03",
                    "coverage_start": "2027-03-03",
                    "coverage_reason": "WAITING_OUTSIDE_WINDOW",
                    "coverage_detail": "集中缴费期外缴费：等待期 3 个月 paid outside the collection window: "
                    "waiting 3 months from 2026-12-03",
                    "waiting_months": 3,
                    "payable": False,
                    "warnings": [
                        {
                            "code": "COVERAGE_CANNOT_START",
                            "message": "2026-12-03缴费，2026年度保障要到2027-03-03才开始，已超出该年度；… "
                            "paid on 2026-12-03, coverage for 2026 would only start on 2027-03-03, after the "
                            "year ends: pay for 2027 instead (collected 2026-09-01 – 2026-12-31)",
                        }
                    ],
                }
            ]
        }
    }

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
    paid_on: date = Field(description="the payment day quoted for (the member app: today)")
    coverage_start: date | None = Field(
        description="when coverage would start if paid on `paid_on` (null: a pay-back creates no coverage, "
        "or there is nothing to buy)"
    )
    coverage_reason: str | None = Field(description="as in the enrolment: IN_WINDOW, WAITING_OUTSIDE_WINDOW, …")
    coverage_detail: str | None
    waiting_months: int
    payable: bool = Field(description="false: a payment on `paid_on` would be refused, `warnings` say why")
    warnings: list[QuoteWarning]

    @classmethod
    def of(cls, due: Due) -> PremiumDue:
        q = due.quote
        c = q.coverage
        return cls(
            id_number=due.person.id_number,
            year=q.year,
            kind=cast(Literal["current", "payback", "newborn"], q.kind),
            premium=to_wire(q.premium),
            subsidy=to_wire(q.subsidy),
            subsidy_group=q.subsidy_group,
            due=to_wire(q.due),
            window_from=q.window_from,
            window_to=q.window_to,
            paid=due.paid,
            paid_on=q.paid_on,
            coverage_start=c.start if c else None,
            coverage_reason=c.reason if c else None,
            coverage_detail=c.detail if c else None,
            waiting_months=c.waiting_months if c else 0,
            payable=q.payable,
            warnings=[QuoteWarning(code=e.code, message=e.message) for e in q.refusals],
        )


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
    enrolment: EnrolmentStatus | None = Field(
        default=None,
        description="the enrolment the payment created; for a pay-back, the premium-derived enrolment that "
        "ended the lapse, whose waiting period it counts towards (its start recomputed if its coverage had not "
        "begun; null if none)",
    )

    @classmethod
    def of(
        cls, p: PremiumPaymentRow, id_number: str, created: bool = True, enrolment: EnrolmentRow | None = None
    ) -> PaymentRead:
        """``enrolment``: the enrolment the payment derived (for a pay-back: the later year's
        enrolment whose wait it counts towards), shown with the payment."""
        return cls(
            payment_id=p.id,
            id_number=id_number,
            year=p.year,
            kind=p.kind,
            channel=p.channel,
            reference=p.reference,
            premium=to_wire(p.premium),
            subsidy=to_wire(p.subsidy),
            subsidy_group=p.subsidy_group,
            amount=to_wire(p.amount),
            paid_on=p.paid_on,
            status=p.status,
            created=created,
            enrolment=EnrolmentStatus.of(id_number, p.year, enrolment) if enrolment is not None else None,
        )


class MovementRead(BaseModel):
    amount: MoneyOut
    kind: str
    reference: str
    at: datetime


class AccountRead(BaseModel):
    id_number: str
    balance: MoneyOut
    movements: list[MovementRead]

    @classmethod
    def of(cls, id_number: str, balance: int, moves: list[AccountMovementRow]) -> AccountRead:
        return cls(
            id_number=id_number,
            balance=to_wire(balance),
            movements=[
                MovementRead(amount=to_wire(m.amount), kind=m.kind, reference=m.reference, at=m.created_at)
                for m in moves
            ],
        )


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

    @classmethod
    def of(cls, b: Binding) -> BindingRequestRead:
        r = b.request
        return cls(
            request_id=r.id,
            holder_id_number=b.holder_id_number,
            relative_id_number=b.relative_id_number,
            relation=r.relation,
            status=r.status,
        )


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

    @classmethod
    def of(cls, r: FilingRow) -> MemberFilingRead:
        return cls(
            filing_id=r.id,
            to_region=r.to_region,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            kind=cast(Literal["temporary", "long_term"], filing_kind(r.valid_from, r.valid_to)),
            status=r.status,
        )


class MemberCodeRead(BaseModel):
    member_code: str = Field(description="render as a QR code; the institution sends it as `member_code`")
    expires_at: datetime


class MemberSettlements(BaseModel):
    items: list[SettlementRead]
