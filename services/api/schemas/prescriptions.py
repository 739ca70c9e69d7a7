"""E-prescriptions (电子处方): requests and answers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Strict
from yibao.prescriptions.service import Issue, RxItem

EXAMPLE_PRESCRIPTION: dict[str, Any] = {
    "rx_id": "RX-H430522100-20261203-0001",
    "doctor_code": "D4305220012",
    "id_number": "430522199001011235",
    "diagnoses": ["E11.9"],
    "items": [{"item_code": "D-METF-500", "quantity": "2", "days_supply": 60}],
}


class RxItemIn(Strict):
    item_code: Annotated[str, Field(min_length=1, max_length=40)]
    quantity: Annotated[Decimal, Field(gt=0, le=10_000, max_digits=11, decimal_places=4)]
    days_supply: Annotated[int | None, Field(ge=1, le=365)] = None


class PrescriptionCreate(Strict):
    model_config = {"json_schema_extra": {"examples": [EXAMPLE_PRESCRIPTION]}}

    rx_id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
    doctor_code: Annotated[str, Field(min_length=1, max_length=40)]
    id_number: Annotated[str, Field(min_length=1, max_length=18)]
    diagnoses: Annotated[list[Annotated[str, Field(max_length=20)]], Field(min_length=1, max_length=20)]
    items: Annotated[list[RxItemIn], Field(min_length=1, max_length=50)]
    valid_until: date | None = Field(default=None, description="default: 3 days from today (today included)")

    def to_command(self) -> Issue:
        return Issue(
            rx_id=self.rx_id,
            doctor_code=self.doctor_code,
            id_number=self.id_number,
            diagnoses=tuple(self.diagnoses),
            items=tuple(RxItem(i.item_code, i.quantity.normalize(), i.days_supply) for i in self.items),
            valid_until=self.valid_until,
        )


class PrescriptionRead(BaseModel):
    rx_id: str
    institution_code: str
    doctor_code: str
    id_number: str  # masked
    diagnoses: list[str]
    items: list[dict[str, Any]]
    issued_at: str
    valid_until: str
    status: Literal["issued", "dispensed", "expired", "cancelled"]
    dispensed_by_settlement: str | None
    pickup_code: str | None = Field(default=None, description="only in the issuing answer: the patient shows it")
