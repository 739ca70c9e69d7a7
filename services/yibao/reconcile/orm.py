from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Numeric, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class ReconcileSubmissionRow(Base):
    """One submitted month; the same content resubmitted finds this row (``digest``)."""

    __tablename__ = "reconcile_submissions"
    __table_args__ = (UniqueConstraint("institution_code", "month", "digest", name="uq_reconcile_submissions_digest"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(20), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # balanced / unbalanced
    rows: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DipPresettlementRow(Base):
    """DIP 月预结算 of one institution and month: an ops figure, recomputed idempotently."""

    __tablename__ = "dip_presettlements"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    cases: Mapped[int] = mapped_column(Integer)
    weighted_points: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    point_value: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    amount: Mapped[int] = mapped_column(FenColumn)
    claimed: Mapped[int] = mapped_column(FenColumn)
    rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
