"""Manual reimbursement claims (零星报销): requests and answers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas.common import MoneyOut, PositiveMoney, Strict, fen
from yibao.claims.service import Attachment, ClaimLine, FileClaim, Payee

Code = Annotated[str, Field(max_length=20)]

EXAMPLE_CLAIM: dict[str, Any] = {
    "id_number": "430522199001011235",
    "kind": "cross_region_unsettled",
    "channel": "service_point",
    "care": {"institution_code": None, "name": "广州市第一人民医院", "region": "440100", "level": 3},
    "visit_type": "outpatient",
    "service_date": "2026-11-20",
    "diagnoses": ["J06.9"],
    "invoice_numbers": ["44010026112000123"],
    "lines": [
        {"line_no": 1, "item_code": "S-CTHD", "quantity": "1", "unit_price": "120.00", "service_date": "2026-11-20"}
    ],
    "attachments": [{"sha256": "9f" * 32, "name": "invoice-001.jpg", "type": "invoice"}],
    "payee": {
        "kind": "own_account",
        "name": "张三",
        "bank": "中国农业银行新邵支行",
        "account_no": "6228480000000000001",
    },
}


class CareIn(Strict):
    """Where the care was given: an institution of the register by code, or name + region + level."""

    institution_code: Annotated[str | None, Field(max_length=20)] = None
    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    region: Annotated[str | None, Field(pattern=r"^\d{6}$")] = None
    level: Annotated[int | None, Field(ge=0, le=3)] = None


class ClaimLineIn(Strict):
    """A fee line in the settlement's line shape (the clerk maps each invoice item to a catalogue code)."""

    line_no: Annotated[int, Field(ge=1, le=100_000)]
    item_code: Annotated[str, Field(min_length=1, max_length=40)]
    quantity: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=4, examples=["1"])]
    unit_price: PositiveMoney
    service_date: date


class AttachmentIn(Strict):
    """A reference to a scanned document held by the document store (the file itself is not sent)."""

    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    type: Literal["invoice", "fee_list", "discharge_summary", "medical_record", "id_card", "bank_card", "other"]

    def to_value(self) -> Attachment:
        return Attachment(self.sha256, self.name, self.type)


class PayeeIn(Strict):
    """``own_account``: the person's own bank account; ``other_account`` needs the relation and a reason."""

    kind: Literal["own_account", "other_account"]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    bank: Annotated[str, Field(min_length=1, max_length=100)]
    account_no: Annotated[str, Field(pattern=r"^\d{8,30}$")]
    relation: Annotated[str | None, Field(max_length=30)] = None
    reason: Annotated[str | None, Field(max_length=200)] = None

    def to_value(self) -> Payee:
        return Payee(**self.model_dump())

    @model_validator(mode="after")
    def _other_needs_why(self) -> PayeeIn:
        if self.kind == "other_account" and (not self.relation or not self.reason):
            raise ValueError("an other_account payee needs relation and reason")
        return self


class _ClaimBody(Strict):
    kind: Literal["cross_region_unsettled", "emergency", "non_designated", "maternity", "other"]
    care: CareIn
    visit_type: Literal[
        "outpatient", "chronic_outpatient", "inpatient", "pharmacy", "maternity_outpatient", "maternity_inpatient"
    ]
    delivery_type: Annotated[
        Literal["vaginal", "caesarean"] | None,
        Field(description="`maternity_inpatient` only (required there); an employee's claim creates her allowance"),
    ] = None
    babies: Annotated[int | None, Field(ge=1, le=9, description="`maternity_inpatient` only (default 1)")] = None
    admitted_on: date | None = None
    discharged_on: date | None = None
    service_date: date
    diagnoses: Annotated[list[Code], Field(max_length=50)] = []
    procedures: Annotated[list[Code], Field(max_length=50)] = []
    invoice_numbers: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=100)
    ]
    lines: Annotated[list[ClaimLineIn], Field(min_length=1, max_length=2000)]
    attachments: Annotated[list[AttachmentIn], Field(max_length=100)] = []
    payee: PayeeIn

    @model_validator(mode="after")
    def _dates_fit_the_visit(self) -> _ClaimBody:
        if len({ln.line_no for ln in self.lines}) != len(self.lines):
            raise ValueError("line_no must be unique within the claim")
        if self.visit_type == "maternity_inpatient":
            if self.delivery_type is None:
                raise ValueError("a maternity_inpatient claim needs delivery_type (vaginal or caesarean)")
        elif self.delivery_type is not None or self.babies is not None:
            raise ValueError("delivery_type/babies are only for maternity_inpatient claims")
        if self.visit_type in ("inpatient", "maternity_inpatient"):
            if self.admitted_on is None or self.discharged_on is None:
                raise ValueError("an inpatient claim needs admitted_on and discharged_on")
            if self.discharged_on < self.admitted_on or self.service_date != self.discharged_on:
                raise ValueError("discharged_on ≥ admitted_on, and service_date = discharged_on")
        elif self.admitted_on is not None or self.discharged_on is not None:
            raise ValueError("only an inpatient claim has admitted_on / discharged_on")
        return self

    def to_command(self, id_number: str, channel: str) -> FileClaim:
        return FileClaim(
            id_number=id_number,
            kind=self.kind,
            channel=channel,
            visit_type=self.visit_type,
            service_date=self.service_date,
            admitted_on=self.admitted_on,
            discharged_on=self.discharged_on,
            diagnoses=tuple(self.diagnoses),
            procedures=tuple(self.procedures),
            delivery_type=self.delivery_type,
            babies=self.babies,
            invoice_numbers=tuple(self.invoice_numbers),
            lines=tuple(
                ClaimLine(ln.line_no, ln.item_code, ln.quantity, fen(ln.unit_price), ln.service_date)
                for ln in self.lines
            ),
            attachments=tuple(a.to_value() for a in self.attachments),
            payee=self.payee.to_value(),
            institution_code=self.care.institution_code,
            care_name=self.care.name,
            care_region=self.care.region,
            care_level=self.care.level,
        )


class ClaimCreate(_ClaimBody):
    """Filed by a clerk at the bureau or a township service point."""

    model_config = {"json_schema_extra": {"examples": [EXAMPLE_CLAIM]}}

    id_number: Annotated[str, Field(min_length=15, max_length=18)]
    channel: Literal["counter", "service_point"]


class MemberClaimCreate(_ClaimBody):
    """Filed by the member in the app (for themselves; channel ``app``)."""


class Reason(Strict):
    reason: Annotated[
        str, Field(min_length=1, max_length=500, examples=["请补充出院小结 please add the discharge summary"])
    ]


class Resubmission(Strict):
    attachments: Annotated[list[AttachmentIn], Field(min_length=1, max_length=100)]


class StepRead(BaseModel):
    step: str = Field(examples=["first_review"])
    actor: str = Field(examples=["staff:reviewer-li"])
    role: str | None
    reason: str | None
    fund_estimate: MoneyOut | None
    at: str


class ClaimSummary(BaseModel):
    id: str
    claim_no: str = Field(examples=["MR2026000001"])
    id_number: str
    kind: str
    status: str = Field(
        examples=["received"],
        description="received / in_review / returned / rejected / approved / transfer_returned / paid",
    )
    service_date: date
    fund_estimate: MoneyOut
    approvals_needed: int
    approvals: int
    received_on: date
    due_date: date
    overdue: bool
    settlement_id: str | None


class ClaimRead(ClaimSummary):
    care: dict[str, Any]
    visit_type: str
    admitted_on: date | None
    discharged_on: date | None
    diagnoses: list[str]
    procedures: list[str]
    invoice_numbers: list[str]
    lines: list[dict[str, Any]]
    channel: str
    attachments: list[dict[str, Any]]
    payee: dict[str, Any]
    reason: str | None
    steps: list[StepRead]


class ClaimPage(BaseModel):
    items: list[ClaimSummary]
