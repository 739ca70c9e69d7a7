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


class GroupRef(BaseModel):
    code: str = Field(examples=["min_living"])
    name: str = Field(examples=["城乡低保户"], description="the group's name in the region's policy")


class SubsidyMismatch(BaseModel):
    payment_id: int
    id_number: str = Field(description="full for clerks (and admin), masked for other roles")
    name: str
    region: str = Field(description="the person's pooling region now (its policy gives the amount)")
    year: int
    paid_on: date = Field(description="the payment day: the groups valid that day give the subsidy")
    booked_subsidy: MoneyOut = Field(description="booked to the assistance fund when the payment was made")
    booked_group: GroupRef | None = Field(description="the group that gave the booked subsidy")
    expected_subsidy: MoneyOut = Field(description="what the groups valid on `paid_on` give now")
    expected_group: GroupRef | None
    difference: MoneyOut = Field(
        description="expected − booked: positive, the booking is short; negative, over", examples=["-160.00"]
    )
    groups_then: list[GroupRef] = Field(description="the groups the payment recorded (its subsidy's group)")
    groups_now: list[GroupRef] = Field(description="every group valid on `paid_on` as the register says now")
    reason: Literal["group_ended", "group_added", "amount_changed"] = Field(
        description="`group_ended`: the booked group is no longer held on `paid_on` (核减); `group_added`: "
        "another group held that day gives another amount; `amount_changed`: the policy gives the booked group "
        "another amount"
    )
    why: str = Field(description="the same in words, bilingual")


class SubsidyMismatchPage(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "items": [
                        {
                            "payment_id": 812,
                            "id_number": "430522199001011235",
                            "name": "张三",
                            "region": "430522",
                            "year": 2027,
                            "paid_on": "2026-10-15",
                            "booked_subsidy": "160.00",
                            "booked_group": {"code": "min_living", "name": "城乡低保户"},
                            "expected_subsidy": "0.00",
                            "expected_group": None,
                            "difference": "-160.00",
                            "groups_then": [{"code": "min_living", "name": "城乡低保户"}],
                            "groups_now": [],
                            "reason": "group_ended",
                            "why": "缴费日已不属于 min_living，补贴应为 0.00 元（已记 160.00 元） min_living no longer "
                            "held on the payment day: the subsidy is 0.00 now, 160.00 was booked",
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    }

    items: list[SubsidyMismatch]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")
