from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class EmployerRow(Base):
    __tablename__ = "employers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(18), unique=True)  # unified social credit code
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ContributionPostingRow(Base):
    """One employer-month's contributions; unique per employer and month (the idempotency unit)."""

    __tablename__ = "contribution_postings"
    __table_args__ = (UniqueConstraint("employer_id", "month"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employers.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)  # first day of the month
    request_hash: Mapped[str] = mapped_column(String(64))
    employer_total: Mapped[int] = mapped_column(FenColumn)
    employee_total: Mapped[int] = mapped_column(FenColumn)
    account_total: Mapped[int] = mapped_column(FenColumn)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ContributionLineRow(Base):
    __tablename__ = "contribution_lines"
    __table_args__ = (UniqueConstraint("posting_id", "person_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("contribution_postings.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    base: Mapped[int] = mapped_column(FenColumn)
    employer_part: Mapped[int] = mapped_column(FenColumn)
    employee_part: Mapped[int] = mapped_column(FenColumn)
    account_credit: Mapped[int] = mapped_column(FenColumn)
    retiree: Mapped[bool] = mapped_column(Boolean, default=False)
