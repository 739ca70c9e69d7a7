from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas.common import Day, MoneyOut, Strict, fen
from yibao.bill_settlement.commands import (
    MAX_QUANTITY,
    MAX_UNIT_PRICE_FEN,
    LineCommand,
    SettleBill,
    bounds_problem,
)

EXAMPLE_REQUEST: dict[str, Any] = {
    "id_number": "430522199001011235",
    "visit_no": "ZY2026000123",
    "visit_type": "inpatient",
    "admitted_on": "2026-03-01",
    "discharged_on": "2026-03-08",
    "service_date": "2026-03-08",
    "diagnoses": ["J18.9"],
    "procedures": [],
    "injury": {"third_party_liable": False},
    "use_personal_account": True,
    "account_payer_id_number": None,
    "lines": [
        {
            "line_no": 1,
            "item_code": "S-BED-2",
            "quantity": "7",
            "unit_price": "40.00",
            "service_date": "2026-03-02",
            "days_supply": None,
            "trace_codes": [],
        },
        {
            "line_no": 2,
            "item_code": "D-CEFT-1G",
            "quantity": "14",
            "unit_price": "16.50",
            "service_date": "2026-03-02",
            "days_supply": 7,
            "trace_codes": [],
        },
    ],
}


class Injury(Strict):
    third_party_liable: bool = False


class LineIn(Strict):
    line_no: Annotated[int, Field(ge=1, le=100_000)]
    item_code: Annotated[str, Field(min_length=1, max_length=40)]
    quantity: Annotated[Decimal, Field(gt=0, le=MAX_QUANTITY, max_digits=11, decimal_places=4, examples=["7"])]
    unit_price: Annotated[
        Decimal, Field(gt=0, le=Decimal(MAX_UNIT_PRICE_FEN) / 100, max_digits=10, decimal_places=2, examples=["40.00"])
    ]
    service_date: Day
    days_supply: Annotated[int | None, Field(ge=1, le=3650)] = None
    trace_codes: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=1000)] = []


class SettleRequest(Strict):
    model_config = {"json_schema_extra": {"examples": [EXAMPLE_REQUEST]}}

    id_number: Annotated[str | None, Field(min_length=1, max_length=18, examples=["430522199001011235"])] = None
    member_code: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=2000,
            description="instead of `id_number`: the member QR code (医保码) scanned from the app; valid 60 s, "
            "one settlement (a retry with the same Idempotency-Key and body still replays)",
        ),
    ] = None
    visit_no: Annotated[str, Field(min_length=1, max_length=64)]
    visit_type: Literal[
        "outpatient", "chronic_outpatient", "inpatient", "pharmacy", "maternity_outpatient", "maternity_inpatient"
    ]
    admitted_on: Day | None = None
    discharged_on: Day | None = None
    service_date: Day
    diagnoses: Annotated[list[Annotated[str, Field(max_length=20)]], Field(max_length=50)] = []
    procedures: Annotated[list[Annotated[str, Field(max_length=20)]], Field(max_length=50)] = []
    injury: Injury | None = None
    use_personal_account: bool = False
    account_payer_id_number: Annotated[str | None, Field(max_length=18)] = None
    chronic_disease: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=20,
            examples=["HTN"],
            description="`chronic_outpatient` only: the recognised disease's code in the policy's `chronic_diseases` "
            "(without it, the first disease covering one of `diagnoses`). Without an approved recognition valid on "
            "the service date the bill is refused `CHRONIC_NOT_RECOGNISED` (422), or, where the region's policy "
            "says `chronic_unrecognised: outpatient`, settled as an ordinary outpatient bill with a warning.",
        ),
    ] = None
    prescription_id: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=40,
            examples=["RX-H430522100-20261203-0001"],
            description="`pharmacy` only: the e-prescription dispensed (lines must be its items, quantities at "
            "most its own; dispensed once: `PRESCRIPTION_ALREADY_DISPENSED`, 409; otherwise "
            "`PRESCRIPTION_INVALID`, 422). When a prescription diagnosis is a disease the person holds an "
            "approved recognition of (valid on the service date; at this pharmacy if the recognition must name "
            "one) the bill is paid under that disease's chronic tier as at level 1 (双通道, employees and "
            "residents; the answer's `chronic_disease` names it); otherwise an employee's bill reaches "
            "outpatient pooling as at level 1 and a resident's stays account and cash.",
        ),
    ] = None
    delivery_type: Annotated[
        Literal["vaginal", "caesarean"] | None,
        Field(description="`maternity_inpatient` only (required there): how the baby was delivered"),
    ] = None
    babies: Annotated[
        int | None,
        Field(ge=1, le=9, description="`maternity_inpatient` only: babies delivered (default 1)"),
    ] = None
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def _dates_fit_the_visit(self) -> SettleRequest:
        if (self.id_number is None) == (self.member_code is None):
            raise ValueError("give exactly one of id_number and member_code")
        if self.visit_type == "maternity_inpatient":
            if self.delivery_type is None:
                raise ValueError("maternity_inpatient bills need delivery_type (vaginal or caesarean)")
        elif self.delivery_type is not None or self.babies is not None:
            raise ValueError("delivery_type/babies are only for maternity_inpatient bills")
        if self.visit_type in ("inpatient", "maternity_inpatient"):
            if self.admitted_on is None or self.discharged_on is None:
                raise ValueError("inpatient bills need admitted_on and discharged_on")
            if self.discharged_on < self.admitted_on:
                raise ValueError("discharged_on is before admitted_on")
            if self.service_date != self.discharged_on:
                raise ValueError("an inpatient bill's service_date is its discharge date")
        elif self.admitted_on is not None or self.discharged_on is not None:
            raise ValueError("admitted_on/discharged_on are only for inpatient bills")
        if self.chronic_disease is not None and self.visit_type != "chronic_outpatient":
            raise ValueError("chronic_disease is only for chronic_outpatient bills")
        if self.prescription_id is not None and self.visit_type != "pharmacy":
            raise ValueError("prescription_id is only for pharmacy bills")
        numbers = [ln.line_no for ln in self.lines]
        if len(set(numbers)) != len(numbers):
            raise ValueError("line_no values must be unique")
        problem = bounds_problem([(ln.line_no, ln.quantity, fen(ln.unit_price)) for ln in self.lines])
        if problem is not None:  # the same bound the use case holds: preview and settle agree
            raise ValueError(problem)
        return self

    def to_command(self, id_number: str | None = None) -> SettleBill:
        """The command; with a ``member_code`` instead of an ``id_number`` its ``id_number`` is
        empty until the use case redeems the code (``id_number``: a person resolved already)."""
        return SettleBill(
            id_number=id_number or self.id_number or "",
            visit_no=self.visit_no,
            visit_type=self.visit_type,
            service_date=self.service_date,
            admitted_on=self.admitted_on,
            discharged_on=self.discharged_on,
            diagnoses=tuple(self.diagnoses),
            procedures=tuple(self.procedures),
            third_party_liable=bool(self.injury and self.injury.third_party_liable),
            use_personal_account=self.use_personal_account,
            account_payer_id_number=self.account_payer_id_number,
            chronic_disease=self.chronic_disease,
            prescription_id=self.prescription_id,
            delivery_type=self.delivery_type,
            babies=self.babies,
            lines=tuple(
                LineCommand(
                    line_no=ln.line_no,
                    item_code=ln.item_code,
                    quantity=ln.quantity.normalize(),  # "7" and "7.00" are the same retry
                    unit_price=fen(ln.unit_price),
                    service_date=ln.service_date,
                    days_supply=ln.days_supply,
                    trace_codes=tuple(ln.trace_codes),
                )
                for ln in self.lines
            ),
        )


class Totals(BaseModel):
    total: MoneyOut
    full_self_pay: MoneyOut
    over_cap_self_pay: MoneyOut
    pre_self_pay: MoneyOut
    policy_range: MoneyOut
    deductible: MoneyOut
    basic_fund: MoneyOut
    critical_illness: MoneyOut
    medical_assistance: MoneyOut
    fund_total: MoneyOut
    personal_part: MoneyOut
    personal_account: MoneyOut
    cash: MoneyOut
    maternity_fund: MoneyOut = "0.00"


class LineOut(BaseModel):
    line_no: int
    item_code: str
    amount: MoneyOut
    full_self_pay: MoneyOut
    over_cap_self_pay: MoneyOut
    pre_self_pay: MoneyOut
    policy_range: MoneyOut
    reasons: list[str]


class WarningOut(BaseModel):
    rule: str = Field(examples=["units_per_day"])
    message: str


class ExplanationOut(BaseModel):
    part: str = Field(examples=["basic_fund"])
    rule: str = Field(examples=["resident.inpatient.ratio_by_level[2]"])
    detail: str = Field(examples=["(3250.00 − 500.00) × 0.70 = 1925.00"])


class ChronicDiseaseOut(BaseModel):
    """The recognised disease a bill was paid under: a `chronic_outpatient` bill, or a pharmacy bill
    on a prescription paid under the chronic tier (双通道)."""

    code: str = Field(examples=["HTN"])
    name: str | None = Field(examples=["高血压"], description="as the bill's policy version names it")
    recognition_id: str | None = Field(
        examples=["0193a4f0-5c1e-7b2a-9d4e-1f2a3b4c5d6e"],
        description="the approved recognition (认定) used; null only on bills settled before it was recorded",
    )


class SettlementRead(BaseModel):
    settlement_id: str
    status: Literal["settled", "cancelled", "preview"]
    policy_version: str = Field(examples=["430522-2026-v3"])
    institution_code: str
    id_number: str = Field(description="masked", examples=["4305221990******35"])
    visit_no: str
    visit_type: str
    service_date: date
    admission_order: int | None
    settled_at: str | None
    cancelled_at: str | None
    chronic_disease: ChronicDiseaseOut | None = Field(
        description="the recognised disease and recognition the bill was paid under (chronic bills and "
        "双通道 pharmacy bills); null for every other bill"
    )
    totals: Totals
    lines: list[LineOut]
    warnings: list[WarningOut]
    explanation: list[ExplanationOut]


class SettlementPage(BaseModel):
    items: list[SettlementRead]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null at the end")
