from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas.common import MoneyIn, MoneyOut, Strict
from api.schemas.people import IdNumber


class PaymentCreate(Strict):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id_number": "430522199001011235",
                    "year": 2026,
                    "channel": "proxy",
                    "reference": "VILLAGE-0012-2025-10-15",
                    "amount": "240.00",
                    "paid_on": "2025-10-15",
                    "agent": "李四 (village agent)",
                }
            ]
        }
    }

    id_number: IdNumber
    year: Annotated[int, Field(ge=2000, le=2100)]
    channel: Literal["app", "wechat", "bank", "tax", "counter", "proxy"]
    reference: Annotated[str, Field(min_length=1, max_length=120, description="the channel's payment reference")]
    amount: MoneyIn
    paid_on: date | None = Field(default=None, description="default: today")
    agent: Annotated[str | None, Field(max_length=100, description="proxy: the village agent")] = None


class SubsidyTotal(BaseModel):
    group: str
    people: int
    amount: MoneyOut


class SubsidyTotals(BaseModel):
    year: int
    fund: Literal["assistance"] = "assistance"
    items: list[SubsidyTotal]
