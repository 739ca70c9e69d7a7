from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, Numeric, SmallInteger, String, func
from sqlalchemy.orm import Mapped, mapped_column

from yibao.db.base import Base, FenColumn


class InstitutionRow(Base):
    __tablename__ = "institutions"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))  # hospital / village_clinic / pharmacy
    level: Mapped[int] = mapped_column(SmallInteger)
    region: Mapped[str] = mapped_column(String(6), index=True)
    agreement: Mapped[str] = mapped_column(String(20))  # active / suspended / terminated
    suspended_until: Mapped[date | None] = mapped_column(Date)
    credit_grade: Mapped[str] = mapped_column(String(1))
    annual_budget: Mapped[int] = mapped_column(FenColumn)
    dip_coefficient: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
