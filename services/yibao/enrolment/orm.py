from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class EnrolmentRow(Base):
    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("person_id", "year", "scheme"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    scheme: Mapped[str] = mapped_column(String(10))  # resident / employee
    year: Mapped[int] = mapped_column(SmallInteger)
    coverage_start: Mapped[date] = mapped_column(Date)
    retiree: Mapped[bool] = mapped_column(Boolean, default=False)
    continuous_years: Mapped[int] = mapped_column(Integer, default=0)
    zero_claim_credit: Mapped[int] = mapped_column(FenColumn, default=0)
    #: why coverage starts on coverage_start (a ``coverage`` reason code) and the sentence shown
    coverage_reason: Mapped[str] = mapped_column(String(30), default="STAFF", server_default="STAFF")
    coverage_detail: Mapped[str] = mapped_column(String(400), default="", server_default="")
    waiting_months: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    #: staff / premium / employer: who created the row (derived sources win over staff)
    source: Mapped[str] = mapped_column(String(10), default="staff", server_default="staff")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
