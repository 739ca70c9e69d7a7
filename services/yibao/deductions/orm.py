from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class DeductionRow(Base):
    """``remaining`` falls as daily settles take it; the row itself is never deleted."""

    __tablename__ = "deductions"
    __table_args__ = (
        UniqueConstraint("kind", "source", name="uq_deductions_kind_source"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institutions.code"), index=True)
    fund: Mapped[str] = mapped_column(String(20))  # basic / critical_illness / assistance
    kind: Mapped[str] = mapped_column(String(20))  # violation / penalty / procured_goods / …
    source: Mapped[str] = mapped_column(String(80))  # e.g. "suspect:42": who caused it
    amount: Mapped[int] = mapped_column(FenColumn)
    remaining: Mapped[int] = mapped_column(FenColumn)
    due_on: Mapped[date] = mapped_column(Date)  # the first settle day that may take it
    note: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
