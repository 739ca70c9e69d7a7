"""Monitoring tables: rule versions and region switches, suspects, agreement actions, alerts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class RuleVersionRow(Base):
    """One immutable version of a rule's mode and parameters; the highest version is in force."""

    __tablename__ = "monitoring_rule_versions"

    rule_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(10))  # in / post / config
    mode: Mapped[str] = mapped_column(String(10))  # block / warn / post
    locked: Mapped[bool] = mapped_column(Boolean)  # contract refusals: mode and switch cannot change
    enabled: Mapped[bool] = mapped_column(Boolean)  # default for regions without a switch
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    changed_by: Mapped[str] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    note: Mapped[str] = mapped_column(String(400), default="")


class RuleRegionRow(Base):
    """Per pooling region on/off switch of a rule (overrides the version's default)."""

    __tablename__ = "monitoring_rule_regions"

    rule_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    region: Mapped[str] = mapped_column(String(6), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[str] = mapped_column(String(80))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SuspectRow(Base):
    """One rule hit with its evidence; ``(rule_id, evidence_key)`` makes re-runs idempotent."""

    __tablename__ = "suspects"
    __table_args__ = (
        UniqueConstraint("rule_id", "evidence_key", name="uq_suspects_rule_evidence"),
        Index("ix_suspects_institution_id", "institution_code", "id"),
        Index("ix_suspects_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(40))
    rule_version: Mapped[int] = mapped_column(Integer)
    evidence_key: Mapped[str] = mapped_column(String(200))
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"))
    person_id: Mapped[int | None] = mapped_column(BigInteger)
    service_date: Mapped[date | None] = mapped_column(Date)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    amount: Mapped[int] = mapped_column(FenColumn)  # at stake, fen
    status: Mapped[str] = mapped_column(String(20))
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    appeal_text: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    first_reviewer: Mapped[str | None] = mapped_column(String(80))
    first_decision: Mapped[str | None] = mapped_column(String(10))  # confirm / dismiss
    first_note: Mapped[str | None] = mapped_column(String(1000))
    first_penalty_multiple: Mapped[int | None] = mapped_column(SmallInteger)
    second_reviewer: Mapped[str | None] = mapped_column(String(80))
    second_note: Mapped[str | None] = mapped_column(String(1000))
    penalty_multiple: Mapped[int | None] = mapped_column(SmallInteger)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AgreementActionRow(Base):
    """History of agreement actions (talk, suspend, terminate, reinstate) on an institution."""

    __tablename__ = "agreement_actions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    days: Mapped[int | None] = mapped_column(Integer)
    suspended_until: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(1000))
    suspect_id: Mapped[int | None] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AlertRow(Base):
    """One alert of a monthly run; ``(kind, period, subject)`` makes re-runs idempotent."""

    __tablename__ = "monitoring_alerts"
    __table_args__ = (UniqueConstraint("kind", "period", "subject", name="uq_monitoring_alerts_kind_period_subject"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # return_to_poverty / fund_health / budget_growth
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    subject: Mapped[str] = mapped_column(String(40))  # person id / scheme / institution code
    amount: Mapped[int | None] = mapped_column(FenColumn)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
