"""Wire shapes of smart monitoring (rules, suspects, reviews, agreement actions, alerts)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import MoneyOut, Strict


class RuleRead(BaseModel):
    rule_id: str = Field(examples=["split_admission"])
    name: str
    stage: str = Field(description="in (during settlement) / post (batch model) / config (workflow, alerts)")
    mode: str = Field(description="block / warn / post")
    locked: bool = Field(description="contract refusals (deceased, agreement, trace code) cannot be changed")
    enabled: bool = Field(description="default for regions without their own switch")
    regions: dict[str, bool]
    params: dict[str, Any] = Field(examples=[{"days": 15}])
    version: int = Field(description="0 = shipped default not stored yet")


class RuleChange(Strict):
    mode: Literal["block", "warn", "post"] | None = None
    params: dict[str, Any] | None = Field(default=None, examples=[{"days": 10}])
    enabled: bool | None = None
    note: str = Field(default="", max_length=400, examples=["区医保局 2026-12 通知"])


class RegionSwitch(Strict):
    enabled: bool


class SuspectRead(BaseModel):
    id: int
    rule_id: str
    rule_version: int
    institution_code: str
    person_id: int | None
    service_date: str | None
    evidence_key: str
    evidence: dict[str, Any]
    amount: MoneyOut
    status: str = Field(description="new / pushed / refunded / appealed / first_reviewed / confirmed / dismissed")
    detected_at: str
    pushed_at: str | None
    appeal_text: str | None
    attachments: list[dict[str, Any]]
    first_reviewer: str | None
    first_decision: str | None
    second_reviewer: str | None
    penalty_multiple: int | None
    decided_at: str | None


class SuspectPage(BaseModel):
    items: list[SuspectRead]
    next_cursor: str | None


class Attachment(Strict):
    name: str = Field(max_length=200, examples=["病程记录.pdf"])
    url: str = Field(max_length=1000, examples=["https://his.example/att/123"])
    sha256: str | None = Field(default=None, max_length=64)


class RefundRequest(Strict):
    note: str = Field(default="", max_length=1000, examples=["同意退回 we accept and refund"])


class AppealRequest(Strict):
    text: str = Field(
        min_length=1, max_length=5000, examples=["患者病情变化需再次住院 readmission was medically needed"]
    )
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)


class ReviewRequest(Strict):
    stage: Literal["first", "second"]
    decision: Literal["confirm", "dismiss"]
    penalty_multiple: int | None = Field(default=None, ge=1, le=5, description="1–5 × the amount (policy bounds)")
    note: str = Field(default="", max_length=1000)


class AgreementActionRequest(Strict):
    action: Literal["talk", "suspend", "terminate", "reinstate"]
    days: int | None = Field(default=None, ge=1, le=3650, examples=[30])
    reason: str = Field(min_length=1, max_length=1000, examples=["分解住院查实 confirmed split admissions"])
    suspect_id: int | None = None


class AgreementActionRead(BaseModel):
    id: int
    institution_code: str
    action: str
    days: int | None
    suspended_until: str | None
    reason: str
    actor: str


class AlertRead(BaseModel):
    id: int
    kind: str
    period: str
    subject: str
    amount: MoneyOut | None
    detail: dict[str, Any]


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_cursor: str | None
