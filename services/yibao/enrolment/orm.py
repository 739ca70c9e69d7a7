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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
